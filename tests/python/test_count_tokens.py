"""Token counting through Sluice: the anthropic, google-genai and boto3 SDKs' count calls with
each provider kind that can count behind them (Anthropic, Gemini, Bedrock, the in-process mock).

sluice-mock counts a conversation as its chat answers report usage, so every cell checks the
count against the input tokens of a real chat request for the same conversation, made with the
same SDK to the same provider. A count that lost the system prompt, a message or a tool would
differ. OpenAI and Cohere have no counting endpoint: each SDK gets its own 400 naming the model.
"""

from __future__ import annotations

import json

import pytest

from conftest import bedrock_runtime

SYSTEM = "You are terse and exact"
TURNS = [
    ("user", "what is the weather in Paris today"),
    ("assistant", "it is sunny and warm"),
    ("user", "and tomorrow in Rome please"),
]
PROVIDERS = {
    "anthropic": "anthropic/claude-sonnet-4",
    "gemini": "gemini/gemini-2.5-flash",
    "bedrock": "bedrock/anthropic.claude-3-haiku",
    "mock": "mock-model",
}


def anthropic_client(base):
    import anthropic

    return anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)


def genai_client(base, vertex=False):
    from google import genai
    from google.genai import types

    if vertex:
        return genai.Client(
            vertexai=True, api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", timeout=30_000)
        )
    return genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=30_000)
    )


def count_and_usage_anthropic(base, model):
    c = anthropic_client(base)
    messages = [{"role": r, "content": t} for r, t in TURNS]
    counted = c.messages.count_tokens(model=model, system=SYSTEM, messages=messages).input_tokens
    used = c.messages.create(model=model, system=SYSTEM, messages=messages, max_tokens=64).usage.input_tokens
    return counted, used


def _contents():
    return [{"role": "model" if r == "assistant" else "user", "parts": [{"text": t}]} for r, t in TURNS]


def count_and_usage_genai(base, model):
    # The Gemini API's count takes contents only (the SDK refuses a system instruction there).
    c = genai_client(base)
    counted = c.models.count_tokens(model=model, contents=_contents()).total_tokens
    used = c.models.generate_content(model=model, contents=_contents()).usage_metadata.prompt_token_count
    return counted, used


def count_and_usage_vertex(base, model):
    # Vertex AI's count takes the system instruction beside the contents.
    c = genai_client(base, vertex=True)
    config = {"system_instruction": SYSTEM}
    counted = c.models.count_tokens(model=model, contents=_contents(), config=config).total_tokens
    used = c.models.generate_content(model=model, contents=_contents(), config=config).usage_metadata.prompt_token_count
    return counted, used


def count_and_usage_boto3(base, model):
    c = bedrock_runtime(f"{base}/bedrock")
    messages = [{"role": r, "content": [{"text": t}]} for r, t in TURNS]
    system = [{"text": SYSTEM}]
    counted = c.count_tokens(modelId=model, input={"converse": {"messages": messages, "system": system}})
    used = c.converse(modelId=model, messages=messages, system=system)["usage"]["inputTokens"]
    return counted["inputTokens"], used


def count_and_usage_boto3_invoke(base, model):
    c = bedrock_runtime(f"{base}/bedrock")
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "system": SYSTEM,
        "messages": [{"role": r, "content": t} for r, t in TURNS],
    }
    raw = json.dumps(body).encode()
    counted = c.count_tokens(modelId=model, input={"invokeModel": {"body": raw}})["inputTokens"]
    used = json.loads(c.invoke_model(modelId=model, body=raw)["body"].read())["usage"]["input_tokens"]
    return counted, used


SDKS = {
    "anthropic": count_and_usage_anthropic,
    "genai": count_and_usage_genai,
    "genai-vertex": count_and_usage_vertex,
    "boto3-converse": count_and_usage_boto3,
}


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("sdk", list(SDKS))
def test_count_equals_the_chat_usage_of_the_same_conversation(sluice, sdk, provider):
    counted, used = SDKS[sdk](sluice.base, PROVIDERS[provider])
    assert counted == used
    assert counted > 0


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock", "mock"])
def test_an_invoke_model_body_is_counted_too(sluice, provider):
    # A Claude InvokeModel body: an Anthropic Messages body with `anthropic_version`.
    model = {
        "anthropic": "anthropic/claude-3-haiku",
        "gemini": "gemini/claude-on-vertex",
        "bedrock": "bedrock/anthropic.claude-3-haiku",
        "mock": "claude-mock",
    }[provider]
    counted, used = count_and_usage_boto3_invoke(sluice.base, model)
    assert counted == used > 0


def test_the_system_prompt_and_every_turn_are_counted(sluice):
    # Counts through a translation move with what is sent, not only equal what chat reports.
    c = anthropic_client(sluice.base)
    small = c.messages.count_tokens(model="gemini/g", messages=[{"role": "user", "content": "one"}]).input_tokens
    big = c.messages.count_tokens(
        model="gemini/g", system="two three", messages=[{"role": "user", "content": "one four five"}]
    ).input_tokens
    assert big - small == 4


@pytest.mark.parametrize("provider", ["openai", "cohere"])
def test_providers_without_counting_are_refused_in_each_sdks_format(sluice, provider):
    import anthropic
    from botocore.exceptions import ClientError
    from google.genai import errors as genai_errors

    model = f"{provider}/some-model"
    with pytest.raises(anthropic.BadRequestError, match="no token-counting endpoint"):
        anthropic_client(sluice.base).messages.count_tokens(model=model, messages=[{"role": "user", "content": "hi"}])
    genai = genai_client(sluice.base)  # held: the client closes itself when collected
    with pytest.raises(genai_errors.ClientError) as info:
        genai.models.count_tokens(model=model, contents="hi")
    assert info.value.code == 400 and "no token-counting endpoint" in str(info.value)
    with pytest.raises(ClientError) as info:
        bedrock_runtime(f"{sluice.base}/bedrock").count_tokens(
            modelId=model, input={"converse": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_upstream_errors_reach_the_counting_sdk(sluice):
    import anthropic

    with pytest.raises(anthropic.RateLimitError):
        anthropic_client(sluice.base).messages.count_tokens(
            model="gemini/error-429", messages=[{"role": "user", "content": "hi"}]
        )


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock", "mock"])
def test_a_nova_invoke_model_body_is_counted_too(sluice, provider):
    # Nova's native body is the Converse shape with `schemaVersion` and `max_new_tokens`.
    model = f"{provider}/us.amazon.nova-lite-v1:0" if provider != "mock" else "us.amazon.nova-lite-v1:0"
    c = bedrock_runtime(f"{sluice.base}/bedrock")
    body = {
        "schemaVersion": "messages-v1",
        "system": [{"text": SYSTEM}],
        "messages": [{"role": r, "content": [{"text": t}]} for r, t in TURNS],
        "inferenceConfig": {"max_new_tokens": 64},
    }
    raw = json.dumps(body).encode()
    counted = c.count_tokens(modelId=model, input={"invokeModel": {"body": raw}})["inputTokens"]
    used = json.loads(c.invoke_model(modelId=model, body=raw)["body"].read())["usage"]["inputTokens"]
    assert counted == used > 0
