"""The official `openai` Python SDK against sluice (OpenAI integration).

Routing under test (see conftest.SLUICE_CONFIG):
  * `openai/<model>` -> sluice-mock upstream, model rewritten to `<model>`;
  * any model without a known provider prefix -> the in-process `mock` provider, model unchanged.
Both mocks answer chat with "echo: " + <last user text>; usage counts whitespace-separated words.
Every test runs twice: once at /v1 and once at the /openai/v1 twin routes.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

UPSTREAM_MODEL = "openai/gpt-4o-mini"
EMBED_MODEL = "openai/text-embedding-3-small"
# Models that must reach the in-process default provider untouched.
DEFAULT_MODELS = ["gpt-4o-mini", "meta-llama/Llama-3.1-8B"]
# Listed by GET /v1/models, so a client may pick it: it must work too.
LISTED_MOCK_MODEL = "mock/mock-model"
CHAT_MODELS = [UPSTREAM_MODEL, *DEFAULT_MODELS, LISTED_MOCK_MODEL]
PROVIDER_PREFIXES = ("openai/", "mock/")

MESSAGES = [
    {"role": "system", "content": "Be brief"},
    {"role": "user", "content": "first question here"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "hello there sluice gateway"},
]


def expected_reply(messages) -> tuple[str, int, int]:
    """(reply text, prompt_tokens, completion_tokens) the echo mocks must produce."""
    last_user = [m["content"] for m in messages if m["role"] == "user"][-1]
    reply = "echo: " + last_user
    prompt = sum(len(m["content"].split()) for m in messages)
    return reply, prompt, len(reply.split())


def expected_models(requested: str) -> set[str]:
    """Acceptable `model` values in the answer for a requested model."""
    for p in PROVIDER_PREFIXES:
        if requested.startswith(p):
            # The provider saw (and echoed) the bare name; sluice may restore the prefixed one.
            return {requested.removeprefix(p), requested}
    return {requested}


@pytest.fixture(params=["/v1", "/openai/v1"], ids=["v1", "openai-v1"])
def prefix(request) -> str:
    return request.param


@pytest.fixture
def client(request, prefix, openai_client, openai_client_prefixed):
    return openai_client if prefix == "/v1" else openai_client_prefixed


# ---- chat, non-streaming -----------------------------------------------------------------------


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_completion(client, model):
    reply, prompt, completion = expected_reply(MESSAGES)
    resp = client.chat.completions.create(model=model, messages=MESSAGES)

    assert resp.object == "chat.completion"
    assert resp.id
    assert isinstance(resp.created, int) and resp.created > 0
    assert resp.model in expected_models(model)
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == reply
    assert not choice.message.tool_calls
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == prompt
    assert resp.usage.completion_tokens == completion
    assert resp.usage.total_tokens == prompt + completion


def test_chat_distinct_requests_get_distinct_answers(client):
    """Catches a gateway that caches or mixes up bodies: each answer echoes its own request."""
    for text in ["alpha", "beta gamma", "delta epsilon zeta"]:
        msgs = [{"role": "user", "content": text}]
        resp = client.chat.completions.create(model=UPSTREAM_MODEL, messages=msgs)
        assert resp.choices[0].message.content == "echo: " + text
        assert resp.usage.prompt_tokens == len(text.split())


def test_chat_concurrent_requests(client):
    """A bounded burst over both workers; every answer matches its own request."""

    def one(i: int) -> tuple[int, str, int]:
        model = UPSTREAM_MODEL if i % 2 else DEFAULT_MODELS[0]
        text = " ".join(f"w{i}" for _ in range(i % 5 + 1))
        resp = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}]
        )
        return i, resp.choices[0].message.content, resp.usage.prompt_tokens

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(32)))
    assert len(results) == 32
    for i, content, prompt in results:
        text = " ".join(f"w{i}" for _ in range(i % 5 + 1))
        assert content == "echo: " + text
        assert prompt == i % 5 + 1


# ---- chat, streaming ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_stream_with_usage(client, model):
    reply, prompt, completion = expected_reply(MESSAGES)
    plain = client.chat.completions.create(model=model, messages=MESSAGES)
    assert plain.choices[0].message.content == reply

    stream = client.chat.completions.create(
        model=model,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) >= 3, chunks

    for c in chunks:
        assert c.object == "chat.completion.chunk"
        assert c.model in expected_models(model)
    assert len({c.id for c in chunks}) == 1, "all chunks of one completion share one id"

    # The last chunk carries usage and no choices; every other one has usage null.
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == prompt
    assert last.usage.completion_tokens == completion
    assert last.usage.total_tokens == prompt + completion
    body = chunks[:-1]
    for c in body:
        assert c.usage is None
        assert len(c.choices) == 1 and c.choices[0].index == 0

    # role only in the first delta.
    assert body[0].choices[0].delta.role == "assistant"
    for c in body[1:]:
        assert c.choices[0].delta.role is None

    # exactly one finish_reason, on the last choice-bearing chunk.
    finishes = [c.choices[0].finish_reason for c in body]
    assert finishes[-1] == "stop"
    assert all(f is None for f in finishes[:-1])

    text = "".join(c.choices[0].delta.content or "" for c in body)
    assert text == reply == plain.choices[0].message.content

    pieces = [c.choices[0].delta.content for c in body if c.choices[0].delta.content]
    if model.startswith("openai/"):
        # sluice-mock streams the reply in 4 pieces by default; sluice must not merge them.
        assert len(pieces) >= 2, pieces


@pytest.mark.parametrize("model", [UPSTREAM_MODEL, DEFAULT_MODELS[0]])
def test_chat_stream_without_usage(client, model):
    reply, _, _ = expected_reply(MESSAGES)
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    assert chunks
    for c in chunks:
        assert c.usage is None, "no usage chunk unless stream_options.include_usage"
        assert len(c.choices) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == reply
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", [UPSTREAM_MODEL, DEFAULT_MODELS[0]])
def test_chat_stream_helper(client, model):
    reply, prompt, completion = expected_reply(MESSAGES)
    deltas: list[str] = []
    done_content = None
    with client.chat.completions.stream(
        model=model, messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        for event in stream:
            if event.type == "content.delta":
                deltas.append(event.delta)
            elif event.type == "content.done":
                done_content = event.content
        final = stream.get_final_completion()

    assert "".join(deltas) == reply
    assert done_content == reply
    assert final.model in expected_models(model)
    assert len(final.choices) == 1
    assert final.choices[0].message.role == "assistant"
    assert final.choices[0].message.content == reply
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.prompt_tokens == prompt
    assert final.usage.completion_tokens == completion
    assert final.usage.total_tokens == prompt + completion


@pytest.mark.parametrize("model", [UPSTREAM_MODEL, DEFAULT_MODELS[0]])
def test_chat_stream_wire_format(sluice, raw, prefix, model):
    """Bytes on the wire: text/event-stream, only `data:` events, JSON chunks, then [DONE] and EOF."""
    resp = raw(
        sluice.base,
        "POST",
        f"{prefix}/chat/completions",
        {
            "model": model,
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert resp.status == 200, resp.body[:500]
    assert resp.headers.get("content-type", "").startswith("text/event-stream")
    text = resp.body.decode()
    events = [e for e in text.replace("\r\n", "\n").split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    assert text.endswith("data: [DONE]\n\n") or text.endswith("data: [DONE]\r\n\r\n")
    for ev in events[:-1]:
        lines = ev.split("\n")
        assert len(lines) == 1 and lines[0].startswith("data: "), ev
        chunk = json.loads(lines[0][len("data: ") :])
        assert chunk["object"] == "chat.completion.chunk"
    assert json.loads(events[-2][len("data: ") :])["choices"] == []


# ---- embeddings --------------------------------------------------------------------------------


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def test_embeddings_default_base64(client):
    """The SDK asks for base64 when the caller does not choose; the wire must carry base64."""
    raw = client.embeddings.with_raw_response.create(model=EMBED_MODEL, input="hello world")
    wire = raw.http_response.json()
    assert wire["object"] == "list"
    assert len(wire["data"]) == 1
    b64 = wire["data"][0]["embedding"]
    assert isinstance(b64, str), "requested encoding_format=base64 but got a non-string"
    packed = base64.b64decode(b64, validate=True)
    assert len(packed) == 8 * 4, "default 8 dims of float32"

    resp = raw.parse()
    assert resp.object == "list"
    assert len(resp.data) == 1
    emb = resp.data[0]
    assert emb.object == "embedding"
    assert emb.index == 0
    assert len(emb.embedding) == 8
    assert all(isinstance(v, float) and math.isfinite(v) for v in emb.embedding)
    assert list(struct.unpack("<8f", packed)) == emb.embedding
    assert resp.usage is not None and resp.usage.prompt_tokens >= 1


def test_embeddings_float_matches_base64(client):
    via_b64 = client.embeddings.create(model=EMBED_MODEL, input="hello world")
    raw = client.embeddings.with_raw_response.create(
        model=EMBED_MODEL, input="hello world", encoding_format="float"
    )
    wire = raw.http_response.json()
    vec = wire["data"][0]["embedding"]
    assert isinstance(vec, list) and len(vec) == 8
    assert all(isinstance(v, (int, float)) for v in vec)
    resp = raw.parse()
    assert resp.data[0].embedding == [float(v) for v in vec]
    # Same input, same vector, whichever encoding carried it.
    assert [_f32(v) for v in vec] == via_b64.data[0].embedding


@pytest.mark.parametrize("encoding", ["base64", "float"])
def test_embeddings_batch_and_dimensions(client, encoding):
    inputs = ["one", "two words", "three more words"]
    resp = client.embeddings.create(
        model=EMBED_MODEL, input=inputs, dimensions=16, encoding_format=encoding
    )
    assert [d.index for d in resp.data] == [0, 1, 2]
    for d in resp.data:
        if encoding == "base64":
            # Chosen explicitly by the caller, so the SDK hands back the base64 text undecoded.
            assert isinstance(d.embedding, str)
            vec = list(struct.unpack("<16f", base64.b64decode(d.embedding, validate=True)))
        else:
            vec = d.embedding
        assert len(vec) == 16
        assert all(isinstance(v, float) and math.isfinite(v) for v in vec)


# ---- models ------------------------------------------------------------------------------------


def test_models_list(client, sluice, raw, prefix):
    page = client.models.list()
    ids = [m.id for m in page.data]
    assert "mock/mock-model" in ids
    assert "openai/gpt-4o-mini" in ids
    assert len(ids) == len(set(ids)), ids
    for m in page.data:
        assert m.object == "model"
        assert isinstance(m.created, int)
        assert m.owned_by

    wire = raw(sluice.base, "GET", f"{prefix}/models")
    assert wire.status == 200
    assert wire.headers.get("content-type", "").startswith("application/json")
    body = wire.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ids


# ---- errors ------------------------------------------------------------------------------------


def test_upstream_429_is_rate_limit_error(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="openai/error-429", messages=MESSAGES)
    err = info.value
    assert err.status_code == 429
    assert isinstance(err.body, dict), err.body
    assert isinstance(err.body.get("message"), str) and err.body["message"]
    assert "type" in err.body


def test_upstream_429_before_stream(client):
    """An upstream error before any byte streamed must surface as the HTTP status, not SSE."""
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="openai/error-429", messages=MESSAGES, stream=True
        )
    assert info.value.status_code == 429


def test_upstream_500_is_internal_server_error(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="openai/error-500", messages=MESSAGES)
    assert info.value.status_code == 500
    assert isinstance(info.value.body, dict) and info.value.body.get("message")


@pytest.mark.parametrize("model", ["openai/", "anthropic/", "bedrock/"])
def test_a_provider_prefix_without_a_model_is_a_400_naming_it(client, model):
    # It went upstream as an empty name (the mock's Bedrock 404 came back wrapped in a string).
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=MESSAGES)
    assert info.value.param == "model" and "no model after it" in info.value.message


def test_gateway_survives_errors(client):
    """After upstream errors the gateway still serves normally."""
    for model in ["openai/error-429", "openai/error-500"]:
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model=model, messages=MESSAGES)
    reply, _, _ = expected_reply(MESSAGES)
    resp = client.chat.completions.create(model=UPSTREAM_MODEL, messages=MESSAGES)
    assert resp.choices[0].message.content == reply
