"""Embeddings through Sluice: every SDK's embeddings call with every provider kind that has an
embeddings API behind it.

The providers all point at sluice-mock, whose embeddings are the same deterministic vector for the
same text and length in every format (`mock::openai::embed`, replicated below as
`mock_vector`). A cell passes only if the vectors the SDK hands its caller are exactly those
float32 values, in input order, after crossing from the SDK's format to the provider's and back.
Anthropic has no embeddings API: every SDK gets its own 400 naming the model.
"""

from __future__ import annotations

import json
import math
import struct

import pytest

from conftest import bedrock_runtime, one_provider, start_gateway, start_mock

TEXTS = ["the quick brown fox", "jumps", "over the lazy dog"]
DIMS = 256  # a length every provider accepts (Titan v2: 256, 512 or 1024)

PROVIDER_MODELS = {
    "mock": "mock-model",  # the in-process provider
    "openai": "openai/text-embedding-3-small",
    "gemini": "gemini/gemini-embedding-001",
    "cohere": "cohere/embed-v4.0",
    "bedrock-titan": "bedrock/amazon.titan-embed-text-v2:0",
    "bedrock-cohere": "bedrock/cohere.embed-v4:0",
}


def mock_vector(text: str, dims: int) -> list[float]:
    """The mock's vector: FNV-1a of the text's bytes, spread over `dims` values in [-1, 1),
    each rounded to float32 as every format carries it."""
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    out = []
    for i in range(dims):
        x = (((h + i) & 0xFFFFFFFFFFFFFFFF) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        v = (x >> 40) / float(1 << 23) - 1.0
        out.append(struct.unpack("<f", struct.pack("<f", v))[0])
    return out


def unit(values) -> list[float]:
    """At unit length, as Titan v2's `normalize` (on by default) gives it: the float32 values'
    squares summed in double precision, each divided in double and rounded to float32, the
    arithmetic Sluice and sluice-mock use, so the comparison stays exact."""
    norm = math.sqrt(sum(float(x) * float(x) for x in values))
    return f32(float(x) / norm for x in values)


def f32(values) -> list[float]:
    return [struct.unpack("<f", struct.pack("<f", float(v)))[0] for v in values]


def mock_tokens(texts) -> int:
    return sum(max(1, len(t.split())) for t in texts)


# ---- adapters: (vectors, input tokens or None) per SDK -------------------------------------------


def via_openai(base, model, texts, encoding=None):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    kwargs = {"encoding_format": encoding} if encoding else {}  # None: the SDK asks for base64
    r = c.embeddings.create(model=model, input=texts, dimensions=DIMS, **kwargs)
    assert [d.index for d in r.data] == list(range(len(texts)))
    return [d.embedding for d in r.data], r.usage.prompt_tokens


def via_cohere(base, model, texts):
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    r = c.embed(
        model=model,
        texts=texts,
        input_type="search_document",
        embedding_types=["float", "base64"],
        output_dimension=DIMS,
    )
    assert r.texts == texts
    import base64

    unpacked = [list(struct.unpack(f"<{DIMS}f", base64.b64decode(b))) for b in r.embeddings.base64]
    assert unpacked == [f32(v) for v in r.embeddings.float_], "base64 and float differ"
    return r.embeddings.float_, r.meta.billed_units.input_tokens


def via_cohere_v1(base, model, texts, typed=False):
    """cohere.Client (the v1 API, `/v1/embed`): `embeddings_floats` unless the body names
    `embedding_types`. v1 has no size parameter in the SDK; the body carries it."""
    import base64

    import cohere

    c = cohere.Client(api_key="k", base_url=f"{base}/cohere", timeout=30)
    kw = {"embedding_types": ["float", "base64"]} if typed else {}
    r = c.embed(
        model=model,
        texts=texts,
        input_type="search_document",
        request_options={"additional_body_parameters": {"output_dimension": DIMS}},
        **kw,
    )
    assert r.texts == texts
    assert r.meta.api_version.version == "1"
    if not typed:
        assert r.response_type == "embeddings_floats", r.response_type
        return r.embeddings, r.meta.billed_units.input_tokens
    assert r.response_type == "embeddings_by_type", r.response_type
    unpacked = [list(struct.unpack(f"<{DIMS}f", base64.b64decode(b))) for b in r.embeddings.base64]
    assert unpacked == [f32(v) for v in r.embeddings.float_], "base64 and float differ"
    return r.embeddings.float_, r.meta.billed_units.input_tokens


def _genai(base, vertex):
    from google import genai
    from google.genai import types

    if vertex:
        return genai.Client(
            vertexai=True, api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", timeout=30_000)
        )
    return genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=30_000)
    )


def via_genai(base, model, texts, vertex=False):
    from google.genai import types

    c = _genai(base, vertex)
    r = c.models.embed_content(
        model=model,
        contents=texts,
        config=types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=DIMS),
    )
    return [e.values for e in r.embeddings], None


def via_boto3_titan(base, model, texts):
    c = bedrock_runtime(f"{base}/bedrock")
    vectors, tokens = [], 0
    for t in texts:  # Titan takes one text per call
        r = c.invoke_model(modelId=model, body=json.dumps({"inputText": t, "dimensions": DIMS}))
        body = json.loads(r["body"].read())
        assert body["embeddingsByType"]["float"] == body["embedding"]
        vectors.append(body["embedding"])
        tokens += body["inputTextTokenCount"]
        headers = r["ResponseMetadata"]["HTTPHeaders"]
        assert int(headers["x-amzn-bedrock-input-token-count"]) == body["inputTextTokenCount"]
    return vectors, tokens


def via_boto3_cohere(base, model, texts):
    c = bedrock_runtime(f"{base}/bedrock")
    body = {"texts": texts, "input_type": "search_document", "output_dimension": DIMS}
    r = c.invoke_model(modelId=model, body=json.dumps(body))
    out = json.loads(r["body"].read())
    assert out["response_type"] == "embeddings_floats" and out["texts"] == texts
    tokens = int(r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"])
    return out["embeddings"], tokens


SDKS = {
    "openai-base64": lambda b, m, t: via_openai(b, m, t),
    "openai-float": lambda b, m, t: via_openai(b, m, t, "float"),
    "cohere": via_cohere,
    "cohere-v1": via_cohere_v1,
    "cohere-v1-typed": lambda b, m, t: via_cohere_v1(b, m, t, typed=True),
    "genai": via_genai,
    "genai-vertex": lambda b, m, t: via_genai(b, m, t, vertex=True),
    "boto3-titan": via_boto3_titan,
    "boto3-cohere": via_boto3_cohere,
}

# Token counts reach the client where the upstream counts (the Gemini API's batch answer does
# not) and the client's format has a field for them (Gemini's has none for embeddings).
COUNTS = {"openai-base64", "openai-float", "cohere", "cohere-v1", "cohere-v1-typed", "boto3-titan", "boto3-cohere"}


@pytest.mark.parametrize("provider", list(PROVIDER_MODELS))
@pytest.mark.parametrize("sdk", list(SDKS))
def test_vectors_cross_every_format_exactly(sluice, sdk, provider):
    model = PROVIDER_MODELS[provider]
    if {sdk, provider} in ({"boto3-titan", "bedrock-cohere"}, {"boto3-cohere", "bedrock-titan"}):
        # Same format: the body passes through as sent, and Bedrock refuses one model family's
        # body for the other's model, as it would without Sluice.
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError) as info:
            SDKS[sdk](sluice.base, model, TEXTS)
        assert info.value.response["Error"]["Code"] == "ValidationException"
        assert "extraneous key" in str(info.value)
        return
    vectors, tokens = SDKS[sdk](sluice.base, model, TEXTS)
    assert len(vectors) == len(TEXTS)
    # Titan v2 normalizes unless told not to: a Titan provider gives unit vectors to every
    # client, and a Titan client gets them from every provider (Sluice scales the others').
    titan = "titan" in sdk or provider == "bedrock-titan"
    for text, got in zip(TEXTS, vectors):
        want = unit(mock_vector(text, DIMS)) if titan else mock_vector(text, DIMS)
        assert f32(got) == want, f"{sdk} -> {provider}: vector of {text!r}"
    if sdk in COUNTS and provider != "gemini":
        assert tokens == mock_tokens(TEXTS)


def test_gemini_single_embed_content_through_the_gateway(sluice, raw):
    # The REST form google-genai does not use: one content in, `embedding` out.
    body = {"content": {"parts": [{"text": "jumps"}]}, "outputDimensionality": 8}
    r = raw(sluice.base, "POST", "/v1beta/models/openai/text-embedding-3-small:embedContent", body)
    assert r.status == 200, r.body
    assert f32(r.json()["embedding"]["values"]) == mock_vector("jumps", 8)


@pytest.mark.parametrize("sdk", ["openai-base64", "cohere", "genai", "boto3-titan"])
def test_anthropic_has_no_embeddings_and_says_so_in_the_clients_format(sluice, sdk):
    with pytest.raises(Exception) as info:
        SDKS[sdk](sluice.base, "anthropic/claude-sonnet-4", ["hi"])
    err = info.value
    status = getattr(err, "status_code", None) or getattr(err, "code", None)
    if status is None:  # botocore ClientError
        status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        assert err.response["Error"]["Code"] == "ValidationException"
    assert status == 400
    assert "no embeddings endpoint" in str(err)


@pytest.mark.parametrize("sdk", ["openai-float", "cohere", "genai", "boto3-cohere"])
@pytest.mark.parametrize("status", [429, 500])
def test_upstream_errors_reach_each_sdk_as_its_own(sluice, sdk, status):
    import cohere
    import openai
    from botocore.exceptions import ClientError
    from google.genai import errors as genai_errors

    provider = "openai" if sdk != "openai-float" else "cohere"
    with pytest.raises((openai.APIStatusError, cohere.core.ApiError, genai_errors.APIError, ClientError)) as info:
        SDKS[sdk](sluice.base, f"{provider}/error-{status}", ["hi"])
    err = info.value
    if isinstance(err, ClientError):
        got = err.response["ResponseMetadata"]["HTTPStatusCode"]
        expected = {429: "ThrottlingException", 500: "InternalServerException"}[status]
        assert err.response["Error"]["Code"] == expected
    else:
        got = getattr(err, "status_code", None) or getattr(err, "code", None)
    assert got == status


def test_what_cannot_cross_is_refused_by_name(sluice):
    import cohere
    import openai

    c = openai.OpenAI(base_url=f"{sluice.base}/v1", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(openai.BadRequestError, match="token arrays"):
        c.embeddings.create(model="cohere/embed-v4.0", input=[[1, 2, 3]])
    co = cohere.ClientV2(api_key="k", base_url=f"{sluice.base}/cohere", timeout=30)
    with pytest.raises(cohere.errors.BadRequestError, match="int8"):
        co.embed(model="openai/text-embedding-3-small", texts=["a"], input_type="search_query", embedding_types=["int8"])
    # The same request to Cohere itself passes through, quantized types and all.
    r = co.embed(model="cohere/embed-v4.0", texts=["a"], input_type="search_query", embedding_types=["int8"])
    assert len(r.embeddings.int8[0]) == 8


@pytest.fixture(scope="module")
def vertex_gateway(tmp_path_factory):
    """A gateway whose `gemini` provider is Vertex (`vertex = true`), in front of sluice-mock."""
    from conftest import _teardown

    tmp = tmp_path_factory.mktemp("vertex")
    mock = start_mock(tmp, "mock-vertex")
    config = one_provider("gemini", f"{mock.base}/v1beta1/publishers/google").replace(
        'keys = ["k"]', 'keys = ["k"]\nvertex = true'
    )
    gw = start_gateway(tmp, "gw-vertex", config)
    yield gw
    _teardown(gw)
    _teardown(mock)


def test_a_vertex_provider_gets_the_predict_form(vertex_gateway):
    vectors, tokens = via_openai(vertex_gateway.base, "gemini/text-embedding-005", TEXTS, "float")
    assert [f32(v) for v in vectors] == [mock_vector(t, DIMS) for t in TEXTS]
    assert tokens == mock_tokens(TEXTS)  # Vertex counts tokens per prediction


# A batch over one call's limit: Cohere 96 texts (on Bedrock too), the Gemini API 100. The mock
# refuses more, as the APIs do (test_mock_embeddings.py), so only a split batch passes.
BIG = [f"text number {i}" for i in range(250)]


@pytest.mark.parametrize("provider", ["cohere", "gemini", "bedrock-cohere"])
def test_a_batch_larger_than_one_upstream_call_is_split_in_order(sluice, provider):
    vectors, tokens = via_openai(sluice.base, PROVIDER_MODELS[provider], BIG, "float")
    assert [f32(v) for v in vectors] == [mock_vector(t, DIMS) for t in BIG]
    if provider != "gemini":  # the Gemini API's batch answer has no count
        assert tokens == mock_tokens(BIG)  # summed over the calls


def test_a_gemini_clients_batch_is_split_for_cohere(sluice):
    texts = BIG[:150]  # google-genai sends one batchEmbedContents of 150
    vectors, _ = via_genai(sluice.base, PROVIDER_MODELS["cohere"], texts)
    assert [f32(v) for v in vectors] == [mock_vector(t, DIMS) for t in texts]


def test_a_batch_needing_more_than_128_calls_is_refused_naming_the_limit(sluice):
    import openai

    # Titan embeds one text per call.
    vectors, _ = via_openai(sluice.base, PROVIDER_MODELS["bedrock-titan"], BIG[:128], "float")
    assert [f32(v) for v in vectors] == [unit(mock_vector(t, DIMS)) for t in BIG[:128]]
    with pytest.raises(openai.BadRequestError, match="at most 128 texts per request") as info:
        via_openai(sluice.base, PROVIDER_MODELS["bedrock-titan"], BIG[:129], "float")
    assert info.value.param == "input"


def test_a_vertex_provider_gets_each_models_own_call_size(vertex_gateway):
    """Vertex `predict` takes 250 instances, and one for its Gemini embedding models."""
    texts = BIG + ["one more", "and another"]  # 252: two calls
    vectors, tokens = via_openai(vertex_gateway.base, "gemini/text-embedding-005", texts, "float")
    assert [f32(v) for v in vectors] == [mock_vector(t, DIMS) for t in texts]
    assert tokens == mock_tokens(texts)
    texts = BIG[:5]  # five calls of one
    vectors, tokens = via_openai(vertex_gateway.base, "gemini/gemini-embedding-001", texts, "float")
    assert [f32(v) for v in vectors] == [mock_vector(t, DIMS) for t in texts]
    assert tokens == mock_tokens(texts)


def test_same_format_gemini_bodies_cross_between_the_gemini_api_and_vertex(tmp_path):
    """Unprefixed models reach the default provider on the same-format path. A Vertex client's
    body (settings under `embedContentConfig`, a system instruction beside `contents`) is not one
    the Gemini API takes, nor the other way round: Sluice re-encodes it for the provider's API."""
    from conftest import _teardown

    mock = start_mock(tmp_path, "mock-styles")
    api = start_gateway(tmp_path, "gw-gemini-api", one_provider("gemini", mock.base))
    vertex_cfg = one_provider("gemini", f"{mock.base}/v1beta1/publishers/google").replace(
        'keys = ["k"]', 'keys = ["k"]\nvertex = true'
    )
    vertex = start_gateway(tmp_path, "gw-vertex", vertex_cfg)
    try:
        # A Vertex client (gemini-* models use :batchEmbedContents with embedContentConfig) to
        # a Gemini API provider.
        vectors, _ = via_genai(api.base, "gemini-embedding-001", TEXTS, vertex=True)
        assert [f32(v) for v in vectors] == [mock_vector(t, DIMS) for t in TEXTS]
        # A Gemini API client to a Vertex provider: text-embedding-* goes out as :predict.
        vectors, _ = via_genai(vertex.base, "text-embedding-005", TEXTS)
        assert [f32(v) for v in vectors] == [mock_vector(t, DIMS) for t in TEXTS]
        # A Vertex client's count with a system instruction, to a Gemini API provider.
        c = _genai(api.base, vertex=True)
        contents = [{"role": "user", "parts": [{"text": "one two three"}]}]
        counted = c.models.count_tokens(
            model="gemini-2.5-flash", contents=contents, config={"system_instruction": "four five"}
        ).total_tokens
        assert counted == 5
    finally:
        for s in (api, vertex, mock):
            _teardown(s)
