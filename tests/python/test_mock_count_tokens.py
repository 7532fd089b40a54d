"""The official SDKs' token-counting calls pointed straight at sluice-mock: Anthropic
`messages.count_tokens`, google-genai `models.count_tokens` (Gemini API and Vertex AI express
mode) and boto3 `count_tokens` (Converse and InvokeModel inputs).

Each count must equal the input tokens the chat call reports for the same conversation, which is
what the real APIs promise and what lets a test compare the two.
"""

from __future__ import annotations

import json

import anthropic
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from google import genai
from google.genai import types

from conftest import bedrock_runtime

SYSTEM = "Be brief and kind"
ANTHROPIC_MESSAGES = [
    {"role": "user", "content": "hello there"},
    {"role": "assistant", "content": "echo: hello there"},
    {"role": "user", "content": [{"type": "text", "text": "one more time please"}]},
]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather by city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


@pytest.fixture(scope="module")
def claude(sluice_mock):
    c = anthropic.Anthropic(base_url=sluice_mock.base, api_key="x", max_retries=0, timeout=30.0)
    yield c
    c.close()


def test_anthropic_count_tokens_equals_the_messages_usage(claude):
    same = dict(model="claude-mock", system=SYSTEM, messages=ANTHROPIC_MESSAGES, tools=TOOLS)
    counted = claude.messages.count_tokens(**same)
    created = claude.messages.create(max_tokens=64, **same)
    # "Be brief and kind" + "hello there" + "echo: hello there" + "one more time please".
    assert created.usage.input_tokens == 13
    assert counted.input_tokens == created.usage.input_tokens


def test_anthropic_count_tokens_refuses_a_messages_only_key(claude):
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.count_tokens(
            model="claude-mock",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"max_tokens": 64},
        )
    assert e.value.status_code == 400
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert e.value.body["error"]["message"] == "max_tokens: Extra inputs are not permitted"
    assert "Extra inputs" in str(e.value)


def test_anthropic_count_tokens_error_scenario(claude):
    with pytest.raises(anthropic.RateLimitError) as e:
        claude.messages.count_tokens(model="error-429", messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"] == {
        "type": "rate_limit_error",
        "message": "mock error 429 requested by model name",
    }


GEMINI_CONTENTS = [
    types.Content(role="user", parts=[types.Part(text="hello there")]),
    types.Content(role="model", parts=[types.Part(text="echo: hello there")]),
    types.Content(role="user", parts=[types.Part(text="and"), types.Part(text="once more")]),
]


@pytest.mark.parametrize("api_version", ["v1beta", "v1"])
def test_gemini_count_tokens_equals_the_prompt_token_count(sluice_mock, api_version):
    client = genai.Client(
        api_key="x", http_options=types.HttpOptions(base_url=sluice_mock.base, api_version=api_version)
    )
    try:
        counted = client.models.count_tokens(model="gemini-2.5-flash", contents=GEMINI_CONTENTS)
        resp = client.models.generate_content(model="gemini-2.5-flash", contents=GEMINI_CONTENTS)
    finally:
        client.close()
    assert resp.usage_metadata.prompt_token_count == 8
    assert counted.total_tokens == resp.usage_metadata.prompt_token_count


def test_vertex_count_tokens_with_a_system_instruction(sluice_mock):
    # Express mode (an API key, no project): `{base}/v1beta1/publishers/google/models/{m}:countTokens`
    # with `systemInstruction` beside `contents`, as Vertex takes it.
    client = genai.Client(
        vertexai=True, api_key="k", http_options=types.HttpOptions(base_url=sluice_mock.base, timeout=30_000)
    )
    try:
        counted = client.models.count_tokens(
            model="gemini-2.5-flash",
            contents=GEMINI_CONTENTS,
            config=types.CountTokensConfig(system_instruction="Be brief"),
        )
        resp = client.models.generate_content(
            model="gemini-2.5-flash",
            contents=GEMINI_CONTENTS,
            config=types.GenerateContentConfig(system_instruction="Be brief"),
        )
    finally:
        client.close()
    assert resp.usage_metadata.prompt_token_count == 10
    assert counted.total_tokens == resp.usage_metadata.prompt_token_count


BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CONVERSE_MESSAGES = [
    {"role": "user", "content": [{"text": "hello there"}]},
    {"role": "assistant", "content": [{"text": "echo: hello there"}]},
    {"role": "user", "content": [{"text": "once more"}, {"text": "please"}]},
]


@pytest.fixture(scope="module")
def bedrock(sluice_mock):
    return bedrock_runtime(sluice_mock.base)


def test_bedrock_count_tokens_converse_equals_converse_usage(bedrock):
    system = [{"text": "Be brief"}]
    counted = bedrock.count_tokens(
        modelId=BEDROCK_MODEL, input={"converse": {"messages": CONVERSE_MESSAGES, "system": system}}
    )
    resp = bedrock.converse(modelId=BEDROCK_MODEL, messages=CONVERSE_MESSAGES, system=system)
    assert resp["usage"]["inputTokens"] == 10
    assert counted["inputTokens"] == resp["usage"]["inputTokens"]


def test_bedrock_count_tokens_invoke_model_equals_invoke_usage(bedrock):
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64,
            "system": "Be brief",
            "messages": [{"role": "user", "content": "one two three"}],
        }
    ).encode()
    counted = bedrock.count_tokens(modelId=BEDROCK_MODEL, input={"invokeModel": {"body": body}})
    resp = bedrock.invoke_model(modelId=BEDROCK_MODEL, body=body)
    usage = json.loads(resp["body"].read())["usage"]
    assert usage["input_tokens"] == 5
    assert counted["inputTokens"] == usage["input_tokens"]


def test_bedrock_count_tokens_refuses_an_empty_input(sluice_mock):
    # botocore checks the union itself; without its check the request reaches the mock, which
    # answers as Bedrock does.
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=sluice_mock.base,
        aws_access_key_id="AKIDCLIENT",
        aws_secret_access_key="client-secret",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    with pytest.raises(ClientError) as e:
        client.count_tokens(modelId=BEDROCK_MODEL, input={})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "exactly one of converse or invokeModel" in e.value.response["Error"]["Message"]
