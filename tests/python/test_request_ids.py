"""The upstream's request id reaches the SDK across formats, under the header each SDK reads
(PROTOCOLS 9, item 17): OpenAI `x-request-id` (`_request_id`), Anthropic `request-id`
(`_request_id`), Bedrock `x-amzn-RequestId` (`ResponseMetadata.RequestId`).

sluice-mock sends `x-request-id: req_mock` with its OpenAI answers, and an id of its own under
each format's header with every other answer, stream and error (`request-id: req_mock_<n>` for
Anthropic, `x-amzn-RequestId` for Bedrock); Sluice relays the upstream's id under the client's
name for it.
"""

from __future__ import annotations

import re

import anthropic
import openai
import pytest
from conftest import bedrock_runtime

BEDROCK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

MESSAGES = [{"role": "user", "content": "say something"}]


@pytest.fixture(scope="module")
def oai(sluice):
    c = openai.OpenAI(base_url=f"{sluice.base}/v1", api_key="k", max_retries=0, timeout=30)
    yield c
    c.close()


@pytest.fixture(scope="module")
def ant(sluice):
    c = anthropic.Anthropic(base_url=f"{sluice.base}/anthropic", api_key="k", max_retries=0, timeout=30)
    yield c
    c.close()


@pytest.fixture(scope="module")
def bedrock(sluice):
    return bedrock_runtime(f"{sluice.base}/bedrock")


def test_openai_sdk_reads_an_anthropic_upstreams_request_id(oai):
    r = oai.chat.completions.create(model="anthropic/claude-x", messages=MESSAGES)
    assert r.choices[0].message.content.startswith("echo: ")
    assert r._request_id and r._request_id.startswith("req_mock_"), r._request_id


def test_openai_sdk_stream_carries_the_upstream_request_id(oai):
    stream = oai.chat.completions.create(model="anthropic/claude-x", messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("echo: ")
    assert stream.response.headers.get("x-request-id", "").startswith("req_mock_")


def test_anthropic_sdk_reads_an_openai_upstreams_request_id(ant):
    m = ant.messages.create(model="openai/gpt-4o-mini", max_tokens=64, messages=MESSAGES)
    assert m.content[0].text.startswith("echo: ")
    assert m._request_id == "req_mock"


def test_openai_sdk_error_carries_the_upstream_request_id(oai):
    # sluice-mock's Anthropic errors carry `request-id: req_sluice_<n>` (the Anthropic error
    # encoder it shares with Sluice); Sluice's own OpenAI errors carry none.
    with pytest.raises(openai.RateLimitError) as e:
        oai.chat.completions.create(model="anthropic/x-error-429", messages=MESSAGES)
    assert e.value.request_id and e.value.request_id.startswith("req_sluice_"), e.value.request_id
    assert e.value.response.headers.get_list("x-request-id") == [e.value.request_id]


def test_boto3_reads_an_anthropic_upstreams_request_id(bedrock):
    r = bedrock.converse(
        modelId="anthropic/claude-x",
        messages=[{"role": "user", "content": [{"text": "say something"}]}],
    )
    assert r["output"]["message"]["content"][0]["text"].startswith("echo: ")
    assert r["ResponseMetadata"]["RequestId"].startswith("req_mock_")


def test_no_request_id_header_is_made_up_for_an_upstream_that_sent_none(oai):
    # The Gemini upstream (sluice-mock's Gemini answer) sends no request id: none is invented.
    r = oai.chat.completions.with_raw_response.create(model="gemini/gemini-2.5-flash", messages=MESSAGES)
    assert r.headers.get("x-request-id") is None
    assert r.parse().choices[0].message.content.startswith("echo: ")


# ---- the in-process mock (the default config's provider) -------------------------------------
# Its answers carry a request id of their own under each client's header, so code that logs
# `_request_id` works against the offline default as against a provider; ids differ per answer.


def test_in_process_mock_gives_openai_clients_a_request_id(oai):
    first = oai.chat.completions.create(model="mock-model", messages=MESSAGES)
    second = oai.chat.completions.create(model="mock-model", messages=MESSAGES)
    assert first._request_id and first._request_id.startswith("req_mock_"), first._request_id
    assert second._request_id and second._request_id != first._request_id
    stream = oai.chat.completions.create(model="mock-model", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert stream.response.headers.get("x-request-id", "").startswith("req_mock_")
    with pytest.raises(openai.RateLimitError) as e:
        oai.chat.completions.create(model="mock-error-429", messages=MESSAGES)
    assert e.value.request_id and e.value.request_id.startswith("req_mock_")


def test_in_process_mock_gives_anthropic_clients_a_request_id(ant):
    m = ant.messages.create(model="mock-model", max_tokens=64, messages=MESSAGES)
    assert m._request_id and m._request_id.startswith("req_mock_"), m._request_id
    with ant.messages.stream(model="mock-model", max_tokens=64, messages=MESSAGES) as s:
        assert s.get_final_message().content[0].text
        assert s.response.headers.get("request-id", "").startswith("req_mock_")


def test_in_process_mock_gives_boto3_a_request_id(bedrock):
    msgs = [{"role": "user", "content": [{"text": "say something"}]}]
    r = bedrock.converse(modelId="mock-model", messages=msgs)
    assert r["ResponseMetadata"]["RequestId"].startswith("req_mock_")
    s = bedrock.converse_stream(modelId="mock-model", messages=msgs)
    assert s["ResponseMetadata"]["RequestId"].startswith("req_mock_")
    assert any("messageStop" in e for e in s["stream"])


# ---- sluice-mock straight, as the provider it stands in for ------------------------------------


def test_sluice_mock_streams_carry_the_request_id_each_sdk_reads(sluice_mock):
    ant = anthropic.Anthropic(base_url=sluice_mock.base, api_key="k", max_retries=0, timeout=30)
    with ant.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as s:
        assert s.get_final_message().content[0].text.startswith("echo: ")
        assert s.response.headers.get("request-id", "").startswith("req_mock_")
    with pytest.raises(anthropic.RateLimitError) as e:
        ant.messages.create(model="x-error-429", max_tokens=64, messages=MESSAGES, stream=True)
    assert e.value.request_id, "an error before the stream names its request too"
    assert e.value.response.headers.get_list("request-id") == [e.value.request_id]
    ant.close()

    bedrock = bedrock_runtime(sluice_mock.base)
    msgs = [{"role": "user", "content": [{"text": "say something"}]}]
    s = bedrock.converse_stream(modelId="claude-x", messages=msgs)
    # Bedrock's request ids are UUIDs, streamed or not (test_mock_ids.py).
    assert BEDROCK_ID.fullmatch(s["ResponseMetadata"]["RequestId"])
    assert any("messageStop" in e for e in s["stream"])
    r = bedrock.invoke_model_with_response_stream(
        modelId="claude-x",
        body='{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}',
    )
    assert BEDROCK_ID.fullmatch(r["ResponseMetadata"]["RequestId"])
    assert r["contentType"] == "application/json"
    assert list(r["body"])
    with pytest.raises(bedrock.exceptions.ThrottlingException) as e:
        bedrock.converse_stream(modelId="x-error-429", messages=msgs)
    assert BEDROCK_ID.fullmatch(e.value.response["ResponseMetadata"]["RequestId"])
