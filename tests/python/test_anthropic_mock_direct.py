"""The official `anthropic` SDK pointed straight at sluice-mock: proves the mock speaks the real
Anthropic Messages wire format (PROTOCOLS section 3), non-streaming.

The mock decodes with sluice's Anthropic codec, answers the format-independent scenario chosen by
the model name, and encodes the answer with the same codec.
"""

from __future__ import annotations

import anthropic
import pytest

MODEL = "claude-mock"
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather by city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _client(base: str, **kw) -> anthropic.Anthropic:
    # No retries: every test sees exactly one HTTP exchange, and error tests stay fast.
    return anthropic.Anthropic(base_url=base, api_key="x", max_retries=0, timeout=30.0, **kw)


@pytest.fixture(scope="module")
def client(sluice_mock):
    c = _client(sluice_mock.base)
    yield c
    c.close()


def test_simple_chat(client):
    msg = client.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hello there mock"}]
    )
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert msg.id.startswith("msg_")
    assert msg.model == MODEL
    assert len(msg.content) == 1
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "echo: hello there mock"
    assert msg.stop_reason == "end_turn"
    assert msg.stop_sequence is None
    assert msg.usage.input_tokens == 3
    assert msg.usage.output_tokens == 4
    assert msg.usage.cache_read_input_tokens == 0
    assert msg.usage.cache_creation_input_tokens == 0
    assert msg._request_id and msg._request_id.startswith("req_mock_")


def test_raw_wire_shape(sluice_mock, raw):
    resp = raw(
        sluice_mock.base,
        "POST",
        "/v1/messages",
        {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["request-id"].startswith("req_mock_")
    body = resp.json()
    assert list(body) == [
        "id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage",
    ]
    assert list(body["usage"]) == [
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens",
    ]


def test_system_string_and_blocks(client):
    msg = client.messages.create(
        model=MODEL,
        max_tokens=100,
        system="Be brief",
        messages=[{"role": "user", "content": "hello there mock"}],
    )
    assert msg.content[0].text == "echo: hello there mock"
    assert msg.usage.input_tokens == 5
    msg = client.messages.create(
        model=MODEL,
        max_tokens=100,
        system=[
            {"type": "text", "text": "Be brief"},
            {"type": "text", "text": "and kind", "cache_control": {"type": "ephemeral"}},
        ],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello there mock"}]}],
    )
    assert msg.usage.input_tokens == 7


def test_multi_turn(client):
    msg = client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ignored reply"},
            {"role": "user", "content": "second   one"},
        ],
    )
    assert msg.content[0].text == "echo: second   one"
    assert msg.usage.input_tokens == 1 + 2 + 2


def test_prefixed_route_and_x_api_key(sluice_mock):
    # Older SDKs authenticate with x-api-key; the mock ignores auth either way.
    c = _client(f"{sluice_mock.base}/anthropic", default_headers={"x-api-key": "x"})
    try:
        msg = c.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "ping"}]
        )
        assert msg.content[0].text == "echo: ping"
    finally:
        c.close()


def test_tool_call(client):
    msg = client.messages.create(
        model="claude-tool",
        max_tokens=100,
        tools=TOOLS,
        tool_choice={"type": "auto"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert msg.stop_reason == "tool_use"
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    call = msg.content[1]
    assert call.name == "get_weather"
    assert call.input == {"city": "Paris"}
    assert call.id


def test_parallel_tool_calls(client):
    msg = client.messages.create(
        model="claude-parallel",
        max_tokens=100,
        tools=TOOLS,
        messages=[{"role": "user", "content": "Weather in Paris and Rome?"}],
    )
    assert msg.stop_reason == "tool_use"
    calls = [b for b in msg.content if b.type == "tool_use"]
    assert [c.input["city"] for c in calls] == ["Paris", "Rome"]
    assert len({c.id for c in calls}) == 2


def test_tool_result_round_trip(client):
    first = client.messages.create(
        model="claude-tool",
        max_tokens=100,
        tools=TOOLS,
        messages=[{"role": "user", "content": "Weather?"}],
    )
    call = next(b for b in first.content if b.type == "tool_use")
    history = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
    ]
    msg = client.messages.create(
        model="claude-tool",
        max_tokens=100,
        tools=TOOLS,
        messages=history
        + [
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            }
        ],
    )
    assert msg.stop_reason == "end_turn"
    assert msg.content[0].text == "tool said: sunny"
    # Block content and the error flag are accepted too.
    msg = client.messages.create(
        model="claude-tool",
        max_tokens=100,
        tools=TOOLS,
        messages=history
        + [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": [{"type": "text", "text": "no data"}],
                        "is_error": True,
                    }
                ],
            }
        ],
    )
    assert msg.content[0].text == "tool said: no data"


def test_images_url_and_base64(client):
    msg = client.messages.create(
        model="claude-image",
        max_tokens=100,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX},
                    },
                ],
            }
        ],
    )
    assert msg.content[0].text == "I see 2 images"


def test_image_media_type_outside_anthropics_enum_is_400(client):
    """The API takes exactly image/jpeg, png, gif and webp: `image/jpg` (which OpenAI's data URLs
    take) is a 400 there, so the mock refuses it too and a translation that sends it shows."""
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/jpg", "data": PNG_1PX}}
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude-image", max_tokens=10, messages=[{"role": "user", "content": [image]}])
    assert "media_type" in info.value.body["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"messages": []}, "messages: at least one message is required"),
        ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        # OpenAI's and Gemini's temperature go to 2, Anthropic's to 1.
        ({"extra_body": {"temperature": 1.5}}, "temperature: Input should be less than or equal to 1"),
    ],
)
def test_out_of_bounds_fields_are_400s(client, fields, says):
    args = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}], **fields}
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(**args)
    assert info.value.body["error"] == {"type": "invalid_request_error", "message": says}


def test_length_finish(client):
    msg = client.messages.create(
        model="claude-length",
        max_tokens=100,
        messages=[{"role": "user", "content": "one two three four"}],
    )
    assert msg.stop_reason == "max_tokens"
    assert msg.content[0].text == "echo: one two"


def test_stop_sequence(client):
    msg = client.messages.create(
        model=MODEL,
        max_tokens=100,
        stop_sequences=["END"],
        messages=[{"role": "user", "content": "alpha beta END gamma"}],
    )
    assert msg.stop_reason == "stop_sequence"
    assert msg.stop_sequence == "END"
    assert msg.content[0].text == "echo: alpha beta "


def test_sampling_thinking_and_metadata_accepted(client):
    # 2.x SDKs pass sampling parameters through extra_body. With thinking on, Anthropic takes
    # temperature 1 and top_p from 0.95 only, and no top_k (extended-thinking guide).
    msg = client.messages.create(
        model=MODEL,
        max_tokens=2048,
        metadata={"user_id": "u-1"},
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body={"temperature": 1, "top_p": 0.95},
        messages=[
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "greet back", "signature": "EgtzbHVpY2UtbW9jay1jbGF1ZGU="},
                    {"type": "redacted_thinking", "data": "Eg1zbHVpY2UtbW9jay1yZWRhY3RlZA=="},
                    {"type": "text", "text": "hello"},
                ],
            },
            {"role": "user", "content": "again please"},
        ],
    )
    assert msg.content[0].text == "echo: again please"


def test_thinking_signed_by_another_model_is_refused(client):
    """As the Messages API: a signature it did not make fails the whole request."""
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "greet back", "signature": "CgtzbHVpY2UtbW9jay1nZW1pbmk="},
                {"type": "text", "text": "hello"},
            ],
        },
        {"role": "user", "content": "again please"},
    ]
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=64, messages=messages)
    assert info.value.status_code == 400
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert "Invalid `signature` in `thinking` block" in info.value.body["error"]["message"]


def test_error_429(client):
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(
            model="claude-error-429", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    err = info.value
    assert err.status_code == 429
    assert err.body["type"] == "error"
    assert err.body["error"]["type"] == "rate_limit_error"
    assert "429" in err.body["error"]["message"]
    assert err.request_id and err.request_id == err.body["request_id"]


def test_error_500(client):
    with pytest.raises(anthropic.InternalServerError) as info:
        client.messages.create(
            model="error-500", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 500
    assert info.value.body["error"]["type"] == "api_error"


def test_error_529_overloaded(client):
    with pytest.raises(anthropic.OverloadedError) as info:
        client.messages.create(
            model="error-529", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body["error"]["type"] == "overloaded_error"


def test_undecodable_request_is_400(client):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "text"}]}],
        )
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert "messages[0].content[0].text" in info.value.body["error"]["message"]
