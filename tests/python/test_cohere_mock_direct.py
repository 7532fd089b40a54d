"""The official `cohere` SDK (ClientV2) pointed straight at sluice-mock: proves the mock speaks the
real Cohere v2 wire format (PROTOCOLS section 7), so gateway tests built on it can be trusted.

The SDK appends `/v2/chat` and `/v2/embed` to `base_url`; `<base>/cohere` reaches the twin routes.
"""

from __future__ import annotations

import base64
import json
import math

import cohere
import pytest

MODEL = "command-a-03-2025"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
# A 1x1 transparent PNG.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def _client(base_url: str) -> cohere.ClientV2:
    # No retries: every test sees exactly one HTTP exchange, and error tests stay fast.
    return cohere.ClientV2(api_key="x", base_url=base_url, max_retries=0, timeout=30.0)


@pytest.fixture(scope="module")
def co(sluice_mock):
    return _client(sluice_mock.base)


@pytest.fixture(scope="module")
def co_prefixed(sluice_mock):
    return _client(f"{sluice_mock.base}/cohere")


def _text(resp) -> str:
    return "".join(c.text for c in (resp.message.content or []) if c.type == "text")


def test_simple_chat(co):
    resp = co.chat(model=MODEL, messages=[{"role": "user", "content": "hello there mock"}])
    assert resp.id
    assert resp.finish_reason == "COMPLETE"
    assert resp.message.role == "assistant"
    assert _text(resp) == "echo: hello there mock"
    assert resp.message.tool_calls is None
    assert resp.usage.tokens.input_tokens == 3
    assert resp.usage.tokens.output_tokens == 4
    assert resp.usage.billed_units.input_tokens == 3
    assert resp.usage.billed_units.output_tokens == 4


def test_prefixed_route(co_prefixed):
    resp = co_prefixed.chat(model=MODEL, messages=[{"role": "user", "content": "via prefix"}])
    assert _text(resp) == "echo: via prefix"


def test_system_and_multi_turn(co):
    messages = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ignored reply"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "one"}]},
    ]
    resp = co.chat(model=MODEL, messages=messages)
    assert _text(resp) == "echo: second one"
    # "Be brief" + "first" + "ignored reply" + "second" + "one"
    assert resp.usage.tokens.input_tokens == 2 + 1 + 2 + 1 + 1


def test_typed_messages(co):
    resp = co.chat(
        model=MODEL,
        messages=[
            cohere.SystemChatMessageV2(content="Be brief"),
            cohere.UserChatMessageV2(content="typed hello"),
        ],
    )
    assert _text(resp) == "echo: typed hello"


def test_tool_call(co):
    resp = co.chat(
        model="command-tool",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
    )
    assert resp.finish_reason == "TOOL_CALL"
    assert resp.message.tool_plan == "Let me check."
    assert len(resp.message.tool_calls) == 1
    call = resp.message.tool_calls[0]
    assert call.id == "call_mock_0"
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_parallel_tool_calls(co):
    resp = co.chat(
        model="command-parallel",
        messages=[{"role": "user", "content": "Weather in Paris and Rome?"}],
        tools=TOOLS,
    )
    assert resp.finish_reason == "TOOL_CALL"
    cities = [json.loads(c.function.arguments)["city"] for c in resp.message.tool_calls]
    assert cities == ["Paris", "Rome"]
    assert len({c.id for c in resp.message.tool_calls}) == 2


def test_tool_result_round_trip(co):
    first = co.chat(
        model="command-tool",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
    )
    call = first.message.tool_calls[0]
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "tool_plan": first.message.tool_plan,
            "tool_calls": [call.dict() if hasattr(call, "dict") else call],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"},
    ]
    resp = co.chat(model="command-tool", messages=messages, tools=TOOLS)
    assert resp.finish_reason == "COMPLETE"
    assert _text(resp) == "tool said: sunny, 24C"


def test_tool_result_as_document(co):
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": [{"type": "document", "document": {"data": {"temp": "24C"}}}],
        },
    ]
    resp = co.chat(model=MODEL, messages=messages, tools=TOOLS)
    assert _text(resp) == 'tool said: {"temp":"24C"}'


def test_images_url_and_base64(co):
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}", "detail": "low"}},
    ]
    resp = co.chat(model="command-a-vision-image", messages=[{"role": "user", "content": content}])
    assert _text(resp) == "I see 2 images"


def test_length_finish(co):
    resp = co.chat(model="command-length", messages=[{"role": "user", "content": "one two three four"}])
    assert resp.finish_reason == "MAX_TOKENS"
    assert _text(resp) == "echo: one two"


def test_max_tokens_and_stop_sequences(co):
    resp = co.chat(model=MODEL, messages=[{"role": "user", "content": "a b c d e"}], max_tokens=2)
    assert resp.finish_reason == "MAX_TOKENS"
    resp = co.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "alpha END beta"}],
        stop_sequences=["END"],
        temperature=0.2,
        p=0.9,
        k=40,
        seed=7,
    )
    assert resp.finish_reason == "STOP_SEQUENCE"
    assert _text(resp) == "echo: alpha "


def test_error_429(co):
    with pytest.raises(cohere.errors.TooManyRequestsError) as info:
        co.chat(model="error-429", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 429
    assert "429" in info.value.body["message"]
    assert info.value.body["id"]


def test_error_500(co):
    with pytest.raises(cohere.errors.InternalServerError) as info:
        co.chat(model="error-500", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 500


def test_bad_request(co):
    with pytest.raises(cohere.errors.BadRequestError) as info:
        co.chat(model=MODEL, messages=[{"role": "user", "content": [{"type": "audio"}]}])
    assert "messages[0].content[0].type" in info.value.body["message"]


def test_chat_stream(co):
    events = list(co.chat_stream(model=MODEL, messages=[{"role": "user", "content": "hi there"}]))
    types = [e.type for e in events]
    assert types[0] == "message-start" and types[-1] == "message-end", types
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == "echo: hi there"
    end = events[-1].delta
    assert end.finish_reason == "COMPLETE"
    assert (end.usage.tokens.input_tokens, end.usage.tokens.output_tokens) == (2, 3)


def test_embed_float(co):
    texts = ["hello world", "another text"]
    resp = co.embed(
        model="embed-v4.0", texts=texts, input_type="search_document", embedding_types=["float"]
    )
    assert resp.id
    assert resp.response_type == "embeddings_by_type"
    assert resp.texts == texts
    vectors = resp.embeddings.float_
    assert len(vectors) == 2
    assert all(len(v) == 8 for v in vectors)
    assert all(-1.0 <= x <= 1.0 and math.isfinite(x) for v in vectors for x in v)
    assert vectors[0] != vectors[1]
    again = co.embed(
        model="embed-v4.0", texts=texts[:1], input_type="search_query", embedding_types=["float"]
    )
    assert again.embeddings.float_[0] == vectors[0]
    assert resp.meta.billed_units.input_tokens == 4


def test_embed_types_and_dimension(co):
    resp = co.embed(
        model="embed-v4.0",
        texts=["x"],
        input_type="classification",
        embedding_types=["int8", "base64"],
        output_dimension=256,
    )
    assert len(resp.embeddings.int8[0]) == 256
    raw = base64.b64decode(resp.embeddings.base64[0])
    assert len(raw) == 256 * 4
    assert resp.embeddings.float_ is None


def test_embed_error(co):
    with pytest.raises(cohere.errors.TooManyRequestsError):
        co.embed(model="error-429", texts=["x"], input_type="search_document", embedding_types=["float"])


def test_tool_turn_streams_its_plan_as_cohere_does(co):
    """PROTOCOLS 7.4: a tool turn streams message-start, tool-plan-delta..., then the calls; the
    same text the unstreamed answer gives as `tool_plan`, never as content."""
    events = list(
        co.chat_stream(model="command-tool", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS)
    )
    types = [e.type for e in events]
    assert "content-delta" not in types and "content-start" not in types, types
    plan = "".join(e.delta.message.tool_plan for e in events if e.type == "tool-plan-delta")
    assert plan == "Let me check."
    assert types.index("tool-plan-delta") < types.index("tool-call-start") < types.index("message-end")
    assert events[-1].delta.finish_reason == "TOOL_CALL"
