"""Embeddings from sluice-mock in the Gemini (Developer API and Vertex AI) and Bedrock
InvokeModel formats, through the official SDKs pointed straight at it: each format answers a
text with the vector the OpenAI route gives it (`mock::openai::embed`), so translations can be
checked by value.
"""

from __future__ import annotations

import json
import math

import pytest
from botocore.exceptions import ClientError
from google import genai
from google.oauth2.credentials import Credentials
from google.genai import errors, types

from conftest import bedrock_runtime, raw_request

TEXTS = ["a b", "c"]


def openai_vectors(mock_client, texts, dims):
    resp = mock_client.embeddings.create(
        model="text-embedding-3-small", input=texts, dimensions=dims, encoding_format="float"
    )
    return [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=1e-6)


@pytest.fixture(scope="module")
def gemini(sluice_mock):
    c = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=sluice_mock.base))
    yield c
    c.close()


@pytest.fixture(scope="module", params=["project", "express"])
def vertex(request, sluice_mock):
    http_options = types.HttpOptions(base_url=sluice_mock.base)
    if request.param == "project":
        c = genai.Client(
            vertexai=True,
            project="proj",
            location="us-central1",
            credentials=Credentials(token="fake-token"),  # a live token: no refresh, no lookup
            http_options=http_options,
        )
    else:
        c = genai.Client(vertexai=True, api_key="k", http_options=http_options)
    yield c
    c.close()


def test_gemini_developer_api_batch_embed(gemini, mock_client):
    resp = gemini.models.embed_content(
        model="text-embedding-004",
        contents=TEXTS,
        config={"task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": 16},
    )
    assert len(resp.embeddings) == 2
    want = openai_vectors(mock_client, TEXTS, 16)
    for emb, w in zip(resp.embeddings, want):
        assert len(emb.values) == 16
        assert_same(emb.values, w)


def test_gemini_unknown_task_type_is_invalid_argument(gemini):
    with pytest.raises(errors.ClientError) as e:
        gemini.models.embed_content(model="text-embedding-004", contents="a", config={"task_type": "SEARCH"})
    assert e.value.code == 400
    assert e.value.status == "INVALID_ARGUMENT"
    assert "SEARCH" in e.value.message


def test_gemini_error_scenario_by_model_name(gemini):
    with pytest.raises(errors.APIError) as e:
        gemini.models.embed_content(model="embed-error-429", contents="a")
    assert e.value.code == 429
    assert e.value.status == "RESOURCE_EXHAUSTED"


def test_vertex_predict(vertex, mock_client):
    # A non-Gemini model: google-genai sends Vertex's `:predict` (instances / predictions).
    resp = vertex.models.embed_content(
        model="text-embedding-005",
        contents=TEXTS,
        config={"task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": 16},
    )
    assert len(resp.embeddings) == 2
    want = openai_vectors(mock_client, TEXTS, 16)
    for emb, w, text in zip(resp.embeddings, want, TEXTS):
        assert_same(emb.values, w)
        assert emb.statistics.token_count == len(text.split())
        assert emb.statistics.truncated is False
    assert resp.metadata.billable_character_count == 3


def test_vertex_gemini_embedding_models_use_embed_content(vertex, mock_client):
    # A Gemini embedding model: `:batchEmbedContents` for several contents, `:embedContent` for one,
    # with the options under `embedContentConfig`.
    resp = vertex.models.embed_content(
        model="gemini-embedding-001",
        contents=TEXTS,
        config={"task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": 16},
    )
    assert len(resp.embeddings) == 2
    for emb, w in zip(resp.embeddings, openai_vectors(mock_client, TEXTS, 16)):
        assert_same(emb.values, w)
    one = vertex.models.embed_content(
        model="gemini-embedding-001", contents="x y z", config={"output_dimensionality": 8}
    )
    assert len(one.embeddings) == 1
    assert_same(one.embeddings[0].values, openai_vectors(mock_client, ["x y z"], 8)[0])
    assert one.embeddings[0].statistics.token_count == 3


@pytest.fixture(scope="module")
def bedrock(sluice_mock):
    return bedrock_runtime(sluice_mock.base)


def invoke(bedrock, model, body):
    resp = bedrock.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json")
    return json.loads(resp["body"].read()), resp["ResponseMetadata"]["HTTPHeaders"]


def test_bedrock_titan_v2(bedrock, mock_client):
    out, headers = invoke(
        bedrock,
        "amazon.titan-embed-text-v2:0",
        {"inputText": "one two three", "dimensions": 256, "normalize": True, "embeddingTypes": ["float", "binary"]},
    )
    raw = openai_vectors(mock_client, ["one two three"], 256)[0]
    norm = math.sqrt(sum(x * x for x in raw))
    want = [x / norm for x in raw]  # Titan v2 normalizes unless told not to
    assert_same(out["embedding"], want)
    assert_same(out["embeddingsByType"]["float"], want)
    assert out["embeddingsByType"]["binary"] == [1 if x > 0 else 0 for x in want]
    assert out["inputTextTokenCount"] == 3
    assert headers["x-amzn-bedrock-input-token-count"] == "3"
    assert "x-amzn-bedrock-invocation-latency" in headers
    assert headers.get("x-amzn-requestid")
    out, _ = invoke(bedrock, "amazon.titan-embed-text-v2:0", {"inputText": "one two three", "dimensions": 256, "normalize": False})
    assert_same(out["embedding"], raw)
    # The model's default size.
    out, _ = invoke(bedrock, "us.amazon.titan-embed-text-v2:0", {"inputText": "hi"})
    assert len(out["embedding"]) == 1024
    assert list(out["embeddingsByType"]) == ["float"]


def test_bedrock_cohere_embed(bedrock, mock_client):
    out, headers = invoke(
        bedrock, "cohere.embed-english-v3", {"texts": TEXTS, "input_type": "search_document", "truncate": "END"}
    )
    assert out["response_type"] == "embeddings_floats"
    assert out["texts"] == TEXTS
    assert out["id"]
    assert len(out["embeddings"]) == 2
    for got, w in zip(out["embeddings"], openai_vectors(mock_client, TEXTS, 1024)):
        assert_same(got, w)
    assert headers["x-amzn-bedrock-input-token-count"] == "3"
    out, _ = invoke(
        bedrock,
        "us.cohere.embed-v4:0",
        {"texts": ["c"], "input_type": "search_query", "embedding_types": ["float"], "output_dimension": 256},
    )
    assert out["response_type"] == "embeddings_by_type"
    assert_same(out["embeddings"]["float"][0], openai_vectors(mock_client, ["c"], 256)[0])


@pytest.mark.parametrize(
    "model,body,says",
    [
        ("amazon.titan-embed-text-v2:0", {"texts": ["a"]}, "extraneous key [texts]"),
        ("amazon.titan-embed-text-v2:0", {"inputText": "a", "dimensions": 100}, "dimensions"),
        ("cohere.embed-english-v3", {"texts": ["a"]}, "required key [input_type]"),
    ],
)
def test_bedrock_refuses_what_the_model_refuses(bedrock, model, body, says):
    with pytest.raises(ClientError) as e:
        invoke(bedrock, model, body)
    err = e.value.response
    assert err["Error"]["Code"] == "ValidationException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert says in err["Error"]["Message"]


def test_bedrock_error_scenario_by_model_name(bedrock):
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        invoke(bedrock, "cohere.embed-english-v3-error-429", {"texts": ["a"], "input_type": "clustering"})


def test_each_api_refuses_a_batch_over_its_per_call_limit(sluice_mock, gemini, bedrock):
    """What Sluice splits batches for: the APIs refuse more texts than one call takes (Cohere 96,
    the Gemini API 100, Vertex predict 250 and one for Gemini models), and so does the mock."""
    import cohere

    co = cohere.ClientV2(api_key="k", base_url=sluice_mock.base, timeout=30)
    texts = [f"t{i}" for i in range(97)]
    assert len(co.embed(model="embed-v4.0", texts=texts[:96], input_type="search_document").embeddings.float_) == 96
    with pytest.raises(cohere.errors.BadRequestError, match="at most 96 texts"):
        co.embed(model="embed-v4.0", texts=texts, input_type="search_document")

    many = [f"t{i}" for i in range(101)]
    assert len(gemini.models.embed_content(model="text-embedding-004", contents=many[:100]).embeddings) == 100
    with pytest.raises(errors.ClientError, match="at most 100 requests can be in one batch") as e:
        gemini.models.embed_content(model="text-embedding-004", contents=many)
    assert e.value.code == 400

    vertex = genai.Client(vertexai=True, api_key="k", http_options=types.HttpOptions(base_url=sluice_mock.base))
    lots = [f"t{i}" for i in range(251)]
    assert len(vertex.models.embed_content(model="text-embedding-005", contents=lots[:250]).embeddings) == 250
    with pytest.raises(errors.ClientError, match="at most 250") as e:
        vertex.models.embed_content(model="text-embedding-005", contents=lots)
    assert e.value.code == 400
    vertex.close()
    # Vertex's Gemini embedding models take one instance per predict call.
    path = "/v1beta1/projects/p/locations/l/publishers/google/models/gemini-embedding-001:predict"
    one = raw_request(sluice_mock.base, "POST", path, {"instances": [{"content": "a"}]})
    assert one.status == 200, one.body
    two = raw_request(sluice_mock.base, "POST", path, {"instances": [{"content": "a"}, {"content": "b"}]})
    assert two.status == 400 and b"at most 1 instance" in two.body, two.body

    body = {"texts": texts[:96], "input_type": "search_document"}
    out, _ = invoke(bedrock, "cohere.embed-english-v3", body)
    assert len(out["embeddings"]) == 96
    with pytest.raises(ClientError, match="expected maxItems: 96, actual: 97") as e:
        invoke(bedrock, "cohere.embed-english-v3", {**body, "texts": texts})
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_cohere_v1_embed_in_both_answer_shapes(sluice_mock, mock_client):
    """cohere.Client (the v1 API): `embeddings_floats` for a body without `embedding_types`,
    `embeddings_by_type` with them, each with the same vectors as every other format's mock."""
    import cohere

    co = cohere.Client(api_key="k", base_url=sluice_mock.base, timeout=30)
    want = openai_vectors(mock_client, TEXTS, 8)
    r = co.embed(model="embed-english-v3.0", texts=TEXTS, input_type="search_document")
    assert r.response_type == "embeddings_floats"
    assert (r.texts, r.meta.api_version.version) == (TEXTS, "1")
    assert r.meta.billed_units.input_tokens == 3
    assert_same(r.embeddings, want)
    r = co.embed(model="embed-english-v3.0", texts=TEXTS, input_type="search_query", embedding_types=["float", "int8"])
    assert r.response_type == "embeddings_by_type"
    assert_same(r.embeddings.float_, want)
    assert len(r.embeddings.int8) == len(TEXTS)
    # The SDK's own batching: 97 texts go as 96 and 1, merged in order.
    texts = [f"t{i}" for i in range(97)]
    r = co.embed(model="embed-english-v3.0", texts=texts, input_type="search_document")
    assert len(r.embeddings) == 97 and r.texts == texts
