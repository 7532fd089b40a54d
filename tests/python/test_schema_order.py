"""A response schema reaches every upstream with its properties in the order the client wrote
them: a model writes a structured answer's keys in the schema's order, so a schema re-sorted on
the way (as it was: by key) reorders every answer. Each official SDK sends a schema whose
properties are out of byte order; the mock's `inspect` scenario reports the order it received
(`; schema: zeta,alpha,mid`).
"""

from __future__ import annotations

import json

import pytest

from conftest import bedrock_runtime

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]

ORDER = ["zeta", "alpha", "mid"]
SCHEMA = {
    "type": "object",
    "properties": {
        "zeta": {"type": "string"},
        "alpha": {"type": "integer"},
        "mid": {"type": "object", "properties": {"y": {"type": "string"}, "b": {"type": "string"}}},
    },
    "required": ORDER,
    "additionalProperties": False,
}


def schema_order(report: str) -> list[str]:
    for part in report.split("; "):
        if part.startswith("schema: "):
            return part.removeprefix("schema: ").split(",")
    raise AssertionError(f"no schema in the report: {report}")


@pytest.fixture(scope="module")
def base(sluice):
    return sluice.base


@pytest.mark.parametrize("provider", PROVIDERS)
def test_openai_chat(base, provider):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    r = c.chat.completions.create(
        model=f"{provider}/inspect-model",
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": SCHEMA, "strict": True}},
    )
    assert schema_order(r.choices[0].message.content) == ORDER


@pytest.mark.parametrize("provider", PROVIDERS)
def test_openai_responses(base, provider):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    r = c.responses.create(
        model=f"{provider}/inspect-model",
        input="hi",
        text={"format": {"type": "json_schema", "name": "out", "schema": SCHEMA}},
    )
    assert schema_order(r.output_text) == ORDER


@pytest.mark.parametrize("member", ["output_config", "output_format"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_anthropic(base, provider, member):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    fmt = {"type": "json_schema", "schema": SCHEMA}
    r = c.messages.create(
        model=f"{provider}/inspect-model",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"output_config": {"format": fmt}} if member == "output_config" else {"output_format": fmt},
    )
    assert schema_order(r.content[0].text) == ORDER


@pytest.mark.parametrize("provider", PROVIDERS)
def test_genai(base, provider):
    from google import genai
    from google.genai import types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    r = c.models.generate_content(
        model=f"{provider}/inspect-model",
        contents="hi",
        config=types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=SCHEMA),
    )
    assert schema_order(r.text) == ORDER


@pytest.mark.parametrize("provider", PROVIDERS)
def test_converse(base, provider):
    c = bedrock_runtime(f"{base}/bedrock")
    r = c.converse(
        modelId=f"{provider}/inspect-model",
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        outputConfig={
            "textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": json.dumps(SCHEMA), "name": "out"}}}
        },
    )
    assert schema_order(r["output"]["message"]["content"][0]["text"]) == ORDER


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cohere_v2(base, provider):
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    r = c.chat(
        model=f"{provider}/inspect-model",
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object", "json_schema": SCHEMA},
    )
    assert schema_order(r.message.content[0].text) == ORDER


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cohere_v1(base, provider):
    import cohere

    c = cohere.Client(api_key="k", base_url=base, max_retries=0, timeout=30, log_warning_experimental_features=False)
    r = c.chat(
        model=f"{provider}/inspect-model",
        message="hi",
        response_format={"type": "json_object", "schema": SCHEMA},
    )
    assert schema_order(r.text) == ORDER
