"""boto3's bedrock-runtime client pointed straight at sluice-mock: proves the mock speaks the
Converse wire format (PROTOCOLS 5.1-5.3, 5.6) as botocore parses it, including SigV4-signed
requests, a percent-encoded model id (`:` -> `%3A`) and modeled exceptions via x-amzn-ErrorType.
"""

from __future__ import annotations

import json
import boto3
import pytest
from botocore.config import Config

from conftest import _teardown, bedrock_runtime, start_mock

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"

WEATHER_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
}

# 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def client(sluice_mock):
    sent: list[str] = []
    c = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=sluice_mock.base,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=10, connect_timeout=5),
    )
    c.meta.events.register("before-send.bedrock-runtime", lambda request, **_: sent.append(request.url))
    c.sent_urls = sent  # type: ignore[attr-defined]
    return c


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def test_simple_chat_with_percent_encoded_model_id(client):
    r = client.converse(modelId=MODEL, messages=[user("hello there")])
    assert client.sent_urls[-1].endswith(
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    )
    assert r["output"]["message"]["role"] == "assistant"
    assert r["output"]["message"]["content"] == [{"text": "echo: hello there"}]
    assert r["stopReason"] == "end_turn"
    assert r["usage"]["inputTokens"] == 2
    assert r["usage"]["outputTokens"] == 3
    assert r["usage"]["totalTokens"] == 5
    assert isinstance(r["metrics"]["latencyMs"], int)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ResponseMetadata"]["RequestId"]


def test_system_and_multi_turn(client):
    r = client.converse(
        modelId=MODEL,
        system=[{"text": "Be brief"}],
        messages=[user("first"), {"role": "assistant", "content": [{"text": "ok"}]}, user("second one")],
        inferenceConfig={"maxTokens": 100, "temperature": 0.2, "topP": 0.9},
        additionalModelRequestFields={"top_k": 40},
    )
    assert r["output"]["message"]["content"] == [{"text": "echo: second one"}]
    # System (2) + first (1) + ok (1) + second one (2) words.
    assert r["usage"]["inputTokens"] == 6


def test_stop_sequence(client):
    r = client.converse(
        modelId=MODEL,
        messages=[user("alpha beta END gamma")],
        inferenceConfig={"stopSequences": ["END"]},
    )
    assert r["stopReason"] == "stop_sequence"
    assert r["output"]["message"]["content"] == [{"text": "echo: alpha beta "}]


def test_tool_call_and_result_round_trip(client):
    model = "us.anthropic.claude-tool-v1:0"
    tool_config = {"tools": [WEATHER_TOOL], "toolChoice": {"auto": {}}}
    messages = [user("Weather in Paris?")]
    r = client.converse(modelId=model, messages=messages, toolConfig=tool_config)
    assert r["stopReason"] == "tool_use"
    content = r["output"]["message"]["content"]
    assert content[0] == {"text": "Let me check."}
    call = content[1]["toolUse"]
    assert call["name"] == "get_weather"
    assert call["input"] == {"city": "Paris"}
    assert call["toolUseId"]

    messages.append(r["output"]["message"])
    messages.append(
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": call["toolUseId"],
                        "content": [{"json": {"forecast": "sunny"}}],
                        "status": "success",
                    }
                }
            ],
        }
    )
    r = client.converse(modelId=model, messages=messages, toolConfig=tool_config)
    assert r["stopReason"] == "end_turn"
    assert r["output"]["message"]["content"] == [{"text": 'tool said: {"forecast":"sunny"}'}]


def test_parallel_tool_calls(client):
    r = client.converse(
        modelId="anthropic.claude-parallel-v1:0",
        messages=[user("Weather in Paris and Rome?")],
        toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"any": {}}},
    )
    assert r["stopReason"] == "tool_use"
    calls = [b["toolUse"] for b in r["output"]["message"]["content"]]
    assert [c["input"]["city"] for c in calls] == ["Paris", "Rome"]
    assert len({c["toolUseId"] for c in calls}) == 2


def test_image_bytes(client):
    r = client.converse(
        modelId="anthropic.claude-image-v1:0",
        messages=[
            {
                "role": "user",
                "content": [
                    {"text": "What is this?"},
                    {"image": {"format": "png", "source": {"bytes": PNG}}},
                    {"image": {"format": "jpeg", "source": {"bytes": b"\xff\xd8\xff\xe0"}}},
                ],
            }
        ],
    )
    assert r["output"]["message"]["content"] == [{"text": "I see 2 images"}]


def test_length_finish(client):
    r = client.converse(modelId="anthropic.claude-length-v1:0", messages=[user("one two three four")])
    assert r["stopReason"] == "max_tokens"
    assert r["output"]["message"]["content"] == [{"text": "echo: one two"}]


@pytest.mark.parametrize(
    ("model", "exc", "status"),
    [
        ("error-429", "ThrottlingException", 429),
        ("error-400", "ValidationException", 400),
        ("error-500", "InternalServerException", 500),
        ("error-503", "ServiceUnavailableException", 503),
        ("error-403", "AccessDeniedException", 403),
        ("error-404", "ResourceNotFoundException", 404),
    ],
)
def test_errors_raise_modeled_exceptions(client, model, exc, status):
    cls = getattr(client.exceptions, exc)
    with pytest.raises(cls) as info:
        client.converse(modelId=f"anthropic.{model}:0", messages=[user("x")])
    err = info.value.response
    assert err["Error"]["Code"] == exc
    assert err["Error"]["Message"] == f"mock error {status} requested by model name"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    assert err["ResponseMetadata"]["RequestId"]


@pytest.fixture(scope="module")
def unchecked_client(sluice_mock):
    """boto3 without its own check of the service model's bounds, as a gateway sends: what AWS
    refuses must reach the mock and be refused there."""
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=sluice_mock.base,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"messages": []}, "A conversation must start with a user message"),
        ({"inferenceConfig": {"maxTokens": 0}}, "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy"),
        ({"inferenceConfig": {"temperature": 1.5}}, "Value '1.5' at 'inferenceConfig.temperature' failed to satisfy"),
    ],
)
def test_out_of_bounds_converse_is_a_validation_error(unchecked_client, fields, says):
    with pytest.raises(unchecked_client.exceptions.ValidationException) as info:
        unchecked_client.converse(**{"modelId": MODEL, "messages": [user("x")], **fields})
    assert says in info.value.response["Error"]["Message"]


def test_blocks_only_converse_has_are_answered(client):
    """Guardrail content, media in S3 and video are valid Converse: the mock answers them (with
    stand-ins for media it never looks at) instead of refusing what the decoder cannot translate."""
    s3 = {"s3Location": {"uri": "s3://bucket/key"}}
    r = client.converse(
        modelId=MODEL,
        system=[{"guardContent": {"text": {"text": "be safe"}}}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"image": {"format": "png", "source": s3}},
                    {"document": {"format": "pdf", "name": "d", "source": s3}},
                    {"video": {"format": "mp4", "source": s3}},
                    {"guardContent": {"text": {"text": "guarded words"}}},
                ],
            }
        ],
    )
    assert r["output"]["message"]["content"] == [{"text": "echo: guarded words"}]


def claude_body(text: str) -> str:
    """An InvokeModel body for a Claude model: the Anthropic Messages body (PROTOCOLS 5.5)."""
    return json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
    )


def test_invoke_model_anthropic_body(client):
    # InvokeModel with a Claude model id takes an Anthropic Messages body (PROTOCOLS 5.5).
    r = client.invoke_model(modelId=MODEL, body=claude_body("native body"))
    out = json.loads(r["body"].read())
    assert out["type"] == "message" and out["role"] == "assistant"
    assert out["content"] == [{"type": "text", "text": "echo: native body"}]
    assert out["stop_reason"] == "end_turn"
    # Bedrock's usage headers, which clients read from ResponseMetadata (PROTOCOLS 5.5).
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(h["x-amzn-bedrock-input-token-count"]) == out["usage"]["input_tokens"]
    assert int(h["x-amzn-bedrock-output-token-count"]) == out["usage"]["output_tokens"]
    assert h["x-amzn-bedrock-invocation-latency"].isdigit()


def test_invoke_model_without_messages_is_a_validation_error(client):
    with pytest.raises(client.exceptions.ValidationException):
        client.invoke_model(modelId=MODEL, body=b'{"anthropic_version":"bedrock-2023-05-31"}')


def test_invoke_model_with_response_stream(client):
    # The stream names its chunks' content type (`x-amzn-bedrock-content-type` -> contentType);
    # each chunk is one Anthropic event, `message_stop` last with the invocation metrics.
    r = client.invoke_model_with_response_stream(modelId=MODEL, body=claude_body("native stream"))
    assert r["contentType"] == "application/json"
    events = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "echo: native stream"
    assert events[-1]["type"] == "message_stop"
    assert "amazon-bedrock-invocationMetrics" in events[-1]


LATENCY_MS = 90


@pytest.fixture(scope="module")
def slow_client(tmp_path_factory):
    """boto3 straight at a sluice-mock that waits LATENCY_MS before each answer."""
    mock = start_mock(tmp_path_factory.mktemp("mock-latency"), "sluice-mock-bedrock-latency", "--latency-ms", str(LATENCY_MS))
    yield bedrock_runtime(mock.base)
    _teardown(mock)


def test_the_mock_reports_the_latency_it_waited(slow_client):
    """Real Bedrock reports the model's latency in every answer; the mock reports the time it
    waited (--latency-ms), never a made-up 0."""
    msgs = [user("how long")]
    r = slow_client.converse(modelId=MODEL, messages=msgs)
    assert r["metrics"]["latencyMs"] == LATENCY_MS, r["metrics"]

    meta = [e for e in slow_client.converse_stream(modelId=MODEL, messages=msgs)["stream"] if "metadata" in e]
    assert len(meta) == 1 and LATENCY_MS <= meta[0]["metadata"]["metrics"]["latencyMs"] < LATENCY_MS + 1000, meta

    r = slow_client.invoke_model(modelId=MODEL, body=claude_body("how long"))
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-invocation-latency"] == str(LATENCY_MS)

    r = slow_client.invoke_model_with_response_stream(modelId=MODEL, body=claude_body("how long"))
    last = [json.loads(e["chunk"]["bytes"]) for e in r["body"]][-1]
    m = last["amazon-bedrock-invocationMetrics"]
    assert LATENCY_MS <= m["firstByteLatency"] <= m["invocationLatency"] < LATENCY_MS + 1000, m
