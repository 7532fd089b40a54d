"""sluice-mock names a streamed answer as it names the same route's unstreamed one, as each
provider does (one id shape either way), seen through the official SDKs: an SDK user who logs
or keys on the id must not tell the mock's streams apart (they were `mock-stream-N` in every
format, and a Bedrock stream carried a request id of another shape)."""

from __future__ import annotations

import re

import anthropic
import cohere
import openai
from google import genai
from google.genai import types as genai_types

from conftest import bedrock_runtime


def shape(answer_id: str) -> str:
    """The id without its count: what the provider's ids all share."""
    assert answer_id, "an id"
    return re.sub(r"[0-9a-f-]+$", "", answer_id)


def same_shape(unary: str, streamed: str):
    assert shape(unary) == shape(streamed), (unary, streamed)
    assert unary != streamed, "two answers, two ids"


def test_openai_chat_and_responses(sluice_mock):
    c = openai.OpenAI(base_url=f"{sluice_mock.base}/v1", api_key="k", max_retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    unary = c.chat.completions.create(model="m", messages=msgs).id
    streamed = next(iter(c.chat.completions.create(model="m", messages=msgs, stream=True))).id
    same_shape(unary, streamed)
    # The in-stream failure scenarios stream through the shared encoder: the same ids.
    chunks = c.chat.completions.create(model="midstream-model", messages=msgs, stream=True)
    same_shape(unary, next(iter(chunks)).id)
    unary = c.responses.create(model="m", input="hi").id
    with c.responses.stream(model="m", input="hi") as s:
        streamed = s.get_final_response().id
    same_shape(unary, streamed)
    assert unary.startswith("resp_")


def test_anthropic(sluice_mock):
    c = anthropic.Anthropic(base_url=sluice_mock.base, api_key="k", max_retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    unary = c.messages.with_raw_response.create(model="m", max_tokens=9, messages=msgs)
    with c.messages.stream(model="m", max_tokens=9, messages=msgs) as s:
        streamed = s.get_final_message()
        request_id = s.response.headers.get("request-id")
    same_shape(unary.parse().id, streamed.id)
    assert streamed.id.startswith("msg_")
    same_shape(unary.headers.get("request-id"), request_id)


def test_gemini(sluice_mock):
    c = genai.Client(api_key="k", http_options=genai_types.HttpOptions(base_url=sluice_mock.base, api_version="v1beta"))
    unary = c.models.generate_content(model="m", contents="hi").response_id
    chunks = list(c.models.generate_content_stream(model="m", contents="hi"))
    assert len({ch.response_id for ch in chunks}) == 1, "one id for every chunk of an answer"
    same_shape(unary, chunks[0].response_id)


def test_cohere_v2_and_v1(sluice_mock):
    c = cohere.ClientV2(api_key="k", base_url=sluice_mock.base)
    msgs = [{"role": "user", "content": "hi"}]
    unary = c.chat(model="m", messages=msgs).id
    start = next(e for e in c.chat_stream(model="m", messages=msgs) if e.type == "message-start")
    same_shape(unary, start.id)
    v1 = cohere.Client(api_key="k", base_url=sluice_mock.base)
    unary = v1.chat(model="m", message="hi").response_id
    end = [e for e in v1.chat_stream(model="m", message="hi")][-1]
    same_shape(unary, end.response.response_id)


def test_bedrock(sluice_mock):
    b = bedrock_runtime(sluice_mock.base)
    msgs = [{"role": "user", "content": [{"text": "hi"}]}]
    unary = b.converse(modelId="m", messages=msgs)["ResponseMetadata"]["RequestId"]
    r = b.converse_stream(modelId="m", messages=msgs)
    list(r["stream"])
    same_shape(unary, r["ResponseMetadata"]["RequestId"])
