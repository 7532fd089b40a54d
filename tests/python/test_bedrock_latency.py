"""Bedrock clients get the model's real latency when Sluice translates for them: Converse
`metrics.latencyMs`, ConverseStream `metadata.metrics.latencyMs`, InvokeModelWithResponseStream
`amazon-bedrock-invocationMetrics` (`invocationLatency`, `firstByteLatency`), and InvokeModel's
`x-amzn-bedrock-*` headers (token counts and latency), all through boto3.

The upstream is a sluice-mock that waits LATENCY_MS before it answers, so every figure must be
at least that.
"""

from __future__ import annotations

import json

import pytest

from conftest import _teardown, bedrock_runtime, one_provider, start_gateway, start_mock

LATENCY_MS = 120
MESSAGES = [{"role": "user", "content": [{"text": "how long did that take"}]}]


@pytest.fixture(scope="module")
def bedrock(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sluice-latency")
    mock = start_mock(workdir, "sluice-mock-latency", "--latency-ms", str(LATENCY_MS))
    sluice = start_gateway(workdir, "sluice-latency", one_provider("anthropic", mock.base))
    yield bedrock_runtime(f"{sluice.base}/bedrock")
    _teardown(sluice)
    _teardown(mock)


def test_converse_reports_the_models_latency(bedrock):
    r = bedrock.converse(modelId="anthropic/claude-x", messages=MESSAGES)
    assert r["output"]["message"]["content"][0]["text"].startswith("echo: ")
    assert LATENCY_MS <= r["metrics"]["latencyMs"] < 30_000, r["metrics"]


def test_converse_stream_reports_the_models_latency(bedrock):
    r = bedrock.converse_stream(modelId="anthropic/claude-x", messages=MESSAGES)
    events = list(r["stream"])
    meta = events[-1]["metadata"]
    assert LATENCY_MS <= meta["metrics"]["latencyMs"] < 30_000, meta
    text = "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e)
    assert text.startswith("echo: ")


def test_invoke_stream_reports_invocation_metrics(bedrock):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    r = bedrock.invoke_model_with_response_stream(modelId="anthropic/claude-x", body=json.dumps(body))
    chunks = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    assert chunks[-1]["type"] == "message_stop"
    m = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert LATENCY_MS <= m["firstByteLatency"] <= m["invocationLatency"] < 30_000, m


INVOKE_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": [{"role": "user", "content": "count these words"}]}


def test_invoke_model_headers_carry_usage_and_latency(bedrock):
    r = bedrock.invoke_model(modelId="anthropic/claude-x", body=json.dumps(INVOKE_BODY))
    body = json.loads(r["body"].read())
    assert r["contentType"] == "application/json"
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(h["x-amzn-bedrock-input-token-count"]) == body["usage"]["input_tokens"] > 0, h
    assert int(h["x-amzn-bedrock-output-token-count"]) == body["usage"]["output_tokens"] > 0, h
    assert LATENCY_MS <= int(h["x-amzn-bedrock-invocation-latency"]) < 30_000, h


def test_invoke_stream_names_its_chunks_content_type(bedrock):
    r = bedrock.invoke_model_with_response_stream(modelId="anthropic/claude-x", body=json.dumps(INVOKE_BODY))
    assert r["contentType"] == "application/json"
    assert [json.loads(e["chunk"]["bytes"])["type"] for e in r["body"]][-1] == "message_stop"



def test_in_process_mock_invoke_has_the_headers_too(sluice):
    # The built-in mock provider (the default config's) answers InvokeModel with the same headers.
    c = bedrock_runtime(f"{sluice.base}/bedrock")
    r = c.invoke_model(modelId="mock/claude-x", body=json.dumps(INVOKE_BODY))
    body = json.loads(r["body"].read())
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(h["x-amzn-bedrock-input-token-count"]) == body["usage"]["input_tokens"] > 0, h
    assert int(h["x-amzn-bedrock-output-token-count"]) == body["usage"]["output_tokens"] > 0, h
    assert h["x-amzn-bedrock-invocation-latency"].isdigit()
    s = c.invoke_model_with_response_stream(modelId="mock/claude-x", body=json.dumps(INVOKE_BODY))
    assert s["contentType"] == "application/json"
    assert [json.loads(e["chunk"]["bytes"])["type"] for e in s["body"]][-1] == "message_stop"
