"""Rerank through Sluice: the cohere SDK's `ClientV2.rerank` (v2) and `Client.rerank` (v1), and
boto3's `invoke_model` with a rerank body, against every provider kind that has a rerank API.

Every provider is answered by the mock's shared scores (`src/mock/rerank.rs`, copied in
`rerank_scores.py`): the in-process `mock`, a cohere-kind provider and a bedrock-kind provider
(Cohere's and Amazon's rerank models), the last two backed by sluice-mock. A cell passes only if
the SDK hands its caller exactly the indices and scores the mock computed, best first, cut to
`top_n`. OpenAI, Anthropic and Gemini have no rerank API: each client gets its own 400 naming why.
"""

from __future__ import annotations

import json

import cohere
import pytest
from botocore.exceptions import ClientError

from conftest import bedrock_runtime
from rerank_scores import rank_text, ranked

QUERY = "What is the capital of France?"
DOCS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital of France.",
    "France exports wine and cheese.",
    "Nothing to see here.",
    "The capital of France is Paris, on the Seine.",
]

# Model strings naming each provider with a rerank API (the default provider is the mock).
PROVIDERS = {
    "mock": "mock-model",
    "cohere": "cohere/rerank-v3.5",
    "bedrock-cohere": "bedrock/cohere.rerank-v3-5:0",
    "bedrock-amazon": "bedrock/amazon.rerank-v1:0",
}
NO_RERANK = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4", "gemini/gemini-2.5-flash"]
NO_RETRY = {"max_retries": 0}


def v2(sluice, prefix="/cohere"):
    return cohere.ClientV2(api_key="k", base_url=f"{sluice.base}{prefix}", timeout=30)


def v1(sluice, prefix="/cohere"):
    return cohere.Client(api_key="k", base_url=f"{sluice.base}{prefix}", timeout=30)


def pairs(results):
    return [(r.index, r.relevance_score) for r in results]


@pytest.mark.parametrize("prefix", ["/cohere", ""])
@pytest.mark.parametrize("top_n", [None, 2])
@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_v2_sdk_gets_the_scores_from_every_provider(sluice, provider, top_n, prefix):
    kwargs = {"top_n": top_n} if top_n else {}
    r = v2(sluice, prefix).rerank(model=PROVIDERS[provider], query=QUERY, documents=DOCS, **kwargs)
    assert pairs(r.results) == ranked(QUERY, DOCS, top_n)
    assert r.id
    assert r.meta.api_version.version == "2"
    assert r.meta.billed_units.search_units == 1


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_v1_sdk_gets_scores_and_documents_from_every_provider(sluice, provider):
    docs = [{"text": d, "source": f"s{i}"} for i, d in enumerate(DOCS)]
    docs[3] = DOCS[3]  # strings and objects mix in v1
    r = v1(sluice).rerank(
        model=PROVIDERS[provider], query=QUERY, documents=docs, top_n=3, return_documents=True
    )
    assert pairs(r.results) == ranked(QUERY, DOCS, 3)
    for res in r.results:
        sent = docs[res.index]
        assert res.document.dict() == (sent if isinstance(sent, dict) else {"text": sent})
    assert r.meta.api_version.version == "1"
    assert r.meta.billed_units.search_units == 1
    # Without return_documents, no documents.
    r = v1(sluice, "").rerank(model=PROVIDERS[provider], query=QUERY, documents=DOCS)
    assert pairs(r.results) == ranked(QUERY, DOCS)
    assert all(res.document is None for res in r.results)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_v1_rank_fields_cross_as_key_value_lines(sluice, provider):
    docs = [{"title": "France", "body": d} for d in DOCS]
    fields = ["title", "body"]
    r = v1(sluice).rerank(model=PROVIDERS[provider], query=QUERY, documents=docs, rank_fields=fields)
    assert pairs(r.results) == ranked(QUERY, [rank_text(d, fields) for d in docs])


def invoke(sluice, model, body):
    c = bedrock_runtime(f"{sluice.base}/bedrock")
    r = c.invoke_model(modelId=model, body=json.dumps(body))
    return json.loads(r["body"].read()), r["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_boto3_invoke_model_rerank_reaches_every_provider(sluice, provider):
    model = PROVIDERS[provider]
    body = {"query": QUERY, "documents": DOCS, "top_n": 2}
    if provider != "bedrock-amazon":
        body["api_version"] = 2  # what the cohere SDK's Bedrock client sends
    out, headers = invoke(sluice, model, body)
    assert [(r["index"], r["relevance_score"]) for r in out["results"]] == ranked(QUERY, DOCS, 2)
    assert set(out) <= {"id", "results"}
    assert ("id" in out) == (provider != "bedrock-amazon")
    # The upstream's request id, under Bedrock's header (sluice-mock's Cohere sends none, and
    # none is made up).
    assert bool(headers.get("x-amzn-requestid")) == (provider != "cohere")
    assert "x-amzn-bedrock-invocation-latency" in headers


def test_boto3_rerank_body_with_text_objects_crosses_to_cohere(sluice):
    docs = [{"text": d} for d in DOCS]
    out, _ = invoke(sluice, "cohere/rerank-v3.5", {"query": QUERY, "documents": docs, "api_version": 2})
    assert [(r["index"], r["relevance_score"]) for r in out["results"]] == ranked(QUERY, DOCS)


@pytest.mark.parametrize("model", NO_RERANK)
def test_providers_without_rerank_refuse_in_each_clients_format(sluice, model):
    with pytest.raises(cohere.errors.BadRequestError, match="no rerank endpoint"):
        v2(sluice).rerank(model=model, query=QUERY, documents=DOCS)
    with pytest.raises(cohere.errors.BadRequestError, match="no rerank endpoint"):
        v1(sluice).rerank(model=model, query=QUERY, documents=DOCS)
    with pytest.raises(ClientError) as info:
        invoke(sluice, model, {"query": QUERY, "documents": DOCS, "api_version": 2})
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no rerank endpoint" in str(info.value)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_bad_bodies_are_400_from_every_provider(sluice, provider):
    model = PROVIDERS[provider]
    c = v2(sluice)
    with pytest.raises(cohere.errors.BadRequestError):
        c.rerank(model=model, query=QUERY, documents=[], request_options=NO_RETRY)
    with pytest.raises(cohere.errors.BadRequestError, match="top_n"):
        c.rerank(model=model, query=QUERY, documents=DOCS, top_n=0, request_options=NO_RETRY)
    with pytest.raises(ClientError) as info:
        invoke(sluice, model, {"query": QUERY, "documents": [], "api_version": 2})
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_what_cannot_cross_is_refused_by_name(sluice):
    model = "bedrock/cohere.rerank-v3-5:0"
    with pytest.raises(cohere.errors.BadRequestError, match="max_chunks_per_doc"):
        v1(sluice).rerank(model=model, query=QUERY, documents=DOCS, max_chunks_per_doc=4)
    with pytest.raises(cohere.errors.BadRequestError, match=r"documents\[0\]"):
        v1(sluice).rerank(model=model, query=QUERY, documents=[{"title": "no text"}])
    with pytest.raises(cohere.errors.BadRequestError, match="max_tokens_per_doc"):
        v2(sluice).rerank(model="bedrock/amazon.rerank-v1:0", query=QUERY, documents=DOCS, max_tokens_per_doc=100)
    # The same v1 settings reach Cohere itself: same format passes through.
    r = v1(sluice).rerank(model="cohere/rerank-v3.5", query=QUERY, documents=DOCS, max_chunks_per_doc=4)
    assert pairs(r.results) == ranked(QUERY, DOCS)


@pytest.mark.parametrize("status", [429, 500])
def test_upstream_errors_reach_the_cohere_sdk_with_their_status(sluice, status):
    for model in [f"cohere/error-{status}", f"bedrock/cohere.rerank-error-{status}"]:
        with pytest.raises(cohere.core.ApiError) as info:
            v2(sluice).rerank(model=model, query=QUERY, documents=DOCS, request_options=NO_RETRY)
        assert info.value.status_code == status, model


def test_rerank_does_not_stream(sluice, raw):
    r = raw(sluice.base, "POST", "/v2/rerank", {"model": "m", "query": "q", "documents": ["a"], "stream": True})
    assert r.status == 400 and "does not stream" in r.json()["message"]
