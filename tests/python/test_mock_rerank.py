"""Rerank from sluice-mock, through the SDKs pointed straight at it: the cohere SDK's v2 and v1
rerank (at the root and under `/cohere`) and boto3's `invoke_model` on Cohere's and Amazon's
rerank models. Each speaks the real wire format and gives the shared scores
(`rerank_scores.py`), and refuses what the real APIs refuse in their own error shape.
"""

from __future__ import annotations

import json

import cohere
import pytest
from botocore.exceptions import ClientError

from conftest import bedrock_runtime
from rerank_scores import rank_text, ranked

QUERY = "capital of France"
DOCS = ["Berlin is a capital", "Paris is the capital of France", "wine", "France"]


@pytest.mark.parametrize("prefix", ["", "/cohere"])
def test_cohere_v2_rerank(sluice_mock, prefix):
    c = cohere.ClientV2(api_key="k", base_url=f"{sluice_mock.base}{prefix}", timeout=30)
    r = c.rerank(model="rerank-v3.5", query=QUERY, documents=DOCS, top_n=3)
    assert [(x.index, x.relevance_score) for x in r.results] == ranked(QUERY, DOCS, 3)
    assert r.id and r.meta.api_version.version == "2"
    assert r.meta.billed_units.search_units == 1


@pytest.mark.parametrize("prefix", ["", "/cohere"])
def test_cohere_v1_rerank_with_documents_and_rank_fields(sluice_mock, prefix):
    c = cohere.Client(api_key="k", base_url=f"{sluice_mock.base}{prefix}", timeout=30)
    docs = [{"text": d, "n": str(i)} for i, d in enumerate(DOCS)]
    r = c.rerank(model="rerank-v3.5", query=QUERY, documents=docs, return_documents=True)
    assert [(x.index, x.relevance_score) for x in r.results] == ranked(QUERY, DOCS)
    assert [x.document.dict() for x in r.results] == [docs[x.index] for x in r.results]
    assert r.meta.api_version.version == "1"
    docs = [{"title": d, "body": "x"} for d in DOCS]
    r = c.rerank(model="rerank-v3.5", query=QUERY, documents=docs, rank_fields=["body", "title"])
    assert [(x.index, x.relevance_score) for x in r.results] == ranked(
        QUERY, [rank_text(d, ["body", "title"]) for d in docs]
    )


def test_cohere_refuses_what_the_real_api_refuses(sluice_mock):
    c = cohere.ClientV2(api_key="k", base_url=sluice_mock.base, timeout=30)
    no_retry = {"max_retries": 0}
    for kwargs, says in [
        ({"documents": []}, "at least one"),
        ({"documents": DOCS, "top_n": 0}, "top_n"),
        ({"documents": ["d"] * 1001}, "at most 1000"),
    ]:
        with pytest.raises(cohere.errors.BadRequestError, match=says) as info:
            c.rerank(model="rerank-v3.5", query=QUERY, request_options=no_retry, **kwargs)
        assert "message" in info.value.body
    with pytest.raises(cohere.errors.TooManyRequestsError):
        c.rerank(model="error-429", query=QUERY, documents=DOCS, request_options=no_retry)


@pytest.mark.parametrize("model", ["cohere.rerank-v3-5:0", "amazon.rerank-v1:0", "us.cohere.rerank-v3-5:0"])
def test_bedrock_invoke_model_rerank(sluice_mock, model):
    c = bedrock_runtime(sluice_mock.base)
    body = {"query": QUERY, "documents": DOCS, "top_n": 2}
    if "cohere" in model:
        body["api_version"] = 2
    r = c.invoke_model(modelId=model, body=json.dumps(body))
    out = json.loads(r["body"].read())
    assert [(x["index"], x["relevance_score"]) for x in out["results"]] == ranked(QUERY, DOCS, 2)
    assert ("id" in out) == ("cohere" in model)
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_bedrock_refuses_with_validation_exceptions(sluice_mock):
    c = bedrock_runtime(f"{sluice_mock.base}/bedrock")
    for model, body, says in [
        ("cohere.rerank-v3-5:0", {"query": QUERY, "documents": DOCS}, "api_version"),
        ("cohere.rerank-v3-5:0", {"query": QUERY, "documents": [], "api_version": 2}, "at least one"),
        ("amazon.rerank-v1:0", {"query": QUERY, "documents": ["d"] * 1001}, "at most 1000"),
        ("amazon.rerank-v1:0", {"query": QUERY, "documents": DOCS, "top_n": 0}, "top_n"),
    ]:
        with pytest.raises(ClientError) as info:
            c.invoke_model(modelId=model, body=json.dumps(body))
        assert info.value.response["Error"]["Code"] == "ValidationException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert says in str(info.value)
