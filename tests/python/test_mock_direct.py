"""The official `openai` SDK pointed straight at sluice-mock: proves the mock speaks the real format.

If these fail, the gateway tests in test_openai_sdk.py cannot be trusted either.
"""

from __future__ import annotations

import base64
import json
import math
import struct

import openai
import pytest
import refusals

MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "Be brief"},
    {"role": "user", "content": "hello there mock"},
]
REPLY = "echo: hello there mock"
PROMPT_TOKENS = 5  # "Be brief" + "hello there mock"
COMPLETION_TOKENS = 4  # "echo: hello there mock"


def test_chat(mock_client):
    resp = mock_client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert resp.object == "chat.completion"
    assert resp.id
    assert resp.model == MODEL
    assert len(resp.choices) == 1
    assert resp.choices[0].index == 0
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == REPLY
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens == PROMPT_TOKENS
    assert resp.usage.completion_tokens == COMPLETION_TOKENS
    assert resp.usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS


def test_a_refusal(mock_client):
    refusals.check_chat(mock_client, "refusal-model")
    refusals.check_responses(mock_client, "refusal-model")


def test_chat_echoes_model_and_last_user_message(mock_client):
    msgs = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ignored reply"},
        {"role": "user", "content": "second   one"},
    ]
    resp = mock_client.chat.completions.create(model="some/other-model", messages=msgs)
    assert resp.model == "some/other-model"
    assert resp.choices[0].message.content == "echo: second   one"
    assert resp.usage.prompt_tokens == 1 + 2 + 2


def test_chat_stream(mock_client):
    chunks = list(
        mock_client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert len({c.id for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    last, body = chunks[-1], chunks[:-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == PROMPT_TOKENS
    assert last.usage.completion_tokens == COMPLETION_TOKENS
    assert last.usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS
    assert all(c.usage is None and len(c.choices) == 1 for c in body)
    assert body[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in body[1:])
    assert body[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in body[:-1])
    pieces = [c.choices[0].delta.content for c in body if c.choices[0].delta.content]
    assert len(pieces) == 4, f"default --chunks 4, got {pieces}"
    assert "".join(pieces) == REPLY


def test_chat_stream_without_usage(mock_client):
    chunks = list(mock_client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert all(c.usage is None and len(c.choices) == 1 for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY


def test_chat_stream_helper(mock_client):
    with mock_client.chat.completions.stream(
        model=MODEL, messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == REPLY
    assert final.choices[0].message.content == REPLY
    assert final.choices[0].finish_reason == "stop"
    assert final.usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS


def test_chat_stream_wire_format(sluice_mock, raw):
    resp = raw(
        sluice_mock.base,
        "POST",
        "/v1/chat/completions",
        {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert resp.status == 200
    assert resp.headers.get("content-type", "").startswith("text/event-stream")
    text = resp.body.decode()
    assert text.endswith("data: [DONE]\n\n")
    events = [e for e in text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    for ev in events[:-1]:
        assert ev.startswith("data: ") and "\n" not in ev, ev
        assert json.loads(ev[6:])["object"] == "chat.completion.chunk"


def test_chat_non_stream_wire_format(sluice_mock, raw):
    resp = raw(sluice_mock.base, "POST", "/v1/chat/completions", {"model": MODEL, "messages": MESSAGES})
    assert resp.status == 200
    assert resp.headers.get("content-type", "").startswith("application/json")
    body = resp.json()
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert message["content"] == REPLY
    assert body["usage"]["total_tokens"] == PROMPT_TOKENS + COMPLETION_TOKENS


def test_completions(mock_client):
    resp = mock_client.completions.create(model=MODEL, prompt="say something nice")
    assert resp.object == "text_completion"
    assert resp.model == MODEL
    assert len(resp.choices) == 1
    assert isinstance(resp.choices[0].text, str) and resp.choices[0].text
    assert resp.choices[0].finish_reason in {"stop", "length"}
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_completions_stream(mock_client):
    chunks = list(
        mock_client.completions.create(
            model=MODEL, prompt="say something nice", stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.object == "text_completion" for c in chunks)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    text = "".join(c.choices[0].text for c in chunks[:-1])
    plain = mock_client.completions.create(model=MODEL, prompt="say something nice")
    assert text == plain.choices[0].text


def test_embeddings_base64_default(mock_client):
    raw = mock_client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hi there")
    wire = raw.http_response.json()
    b64 = wire["data"][0]["embedding"]
    assert isinstance(b64, str)
    values = list(struct.unpack("<8f", base64.b64decode(b64, validate=True)))
    resp = raw.parse()
    assert resp.model == "text-embedding-3-small"
    assert resp.data[0].embedding == values
    assert all(math.isfinite(v) for v in values)


def test_embeddings_float_and_dimensions(mock_client):
    resp = mock_client.embeddings.create(
        model="text-embedding-3-small", input=["a", "b c"], encoding_format="float", dimensions=5
    )
    assert [d.index for d in resp.data] == [0, 1]
    assert all(len(d.embedding) == 5 for d in resp.data)
    b64 = mock_client.embeddings.create(model="text-embedding-3-small", input=["a", "b c"], dimensions=5)
    f32 = [[struct.unpack("<f", struct.pack("<f", v))[0] for v in d.embedding] for d in resp.data]
    assert f32 == [d.embedding for d in b64.data]


def test_models(mock_client):
    page = mock_client.models.list()
    assert page.data
    for m in page.data:
        assert m.object == "model"
        assert m.id
        assert isinstance(m.created, int)


def test_error_429(mock_client):
    with pytest.raises(openai.RateLimitError) as info:
        mock_client.chat.completions.create(model="gpt-error-429", messages=MESSAGES)
    assert info.value.status_code == 429
    assert isinstance(info.value.body, dict) and info.value.body.get("message")


def test_refused_field_is_named_in_param(mock_client):
    """OpenAI names the field of a refused request in `param`; the mock sent null."""
    with pytest.raises(openai.BadRequestError) as info:
        mock_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, logprobs=True, top_logprobs=21)
    assert info.value.param == "top_logprobs"


def test_error_500(mock_client):
    with pytest.raises(openai.InternalServerError) as info:
        mock_client.chat.completions.create(model="error-500", messages=MESSAGES, stream=True)
    assert info.value.status_code == 500


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"messages": []}, "messages", "empty_array"),
        ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "integer_below_min_value"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
    ],
)
def test_out_of_bounds_fields_are_400s_naming_the_param(mock_client, fields, param, code):
    """OpenAI refuses these before anything else; a translation that sends one must fail here too."""
    with pytest.raises(openai.BadRequestError) as info:
        mock_client.chat.completions.create(**{"model": MODEL, "messages": MESSAGES, **fields})
    assert (info.value.param, info.value.code, info.value.type) == (param, code, "invalid_request_error")


@pytest.mark.parametrize("text", ["", [], ["a", ""]])
def test_embeddings_of_no_text_are_400s(mock_client, text):
    with pytest.raises(openai.BadRequestError) as info:
        mock_client.embeddings.create(model="text-embedding-3-small", input=text)
    assert "'$.input' is invalid" in info.value.message
