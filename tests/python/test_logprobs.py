"""Token log probabilities through the real SDKs.

OpenAI (`logprobs`/`top_logprobs`, `choices[].logprobs.content`) and Gemini (`responseLogprobs`/
`logprobs`, `candidates[].logprobsResult`) carry them, so Sluice translates them both ways, in
answers and in streams. The mocks answer a request that asks with one token per word (a leading
space belongs to the word), so the tokens joined spell the text, and the chosen token is the first
alternative. Formats that have none refuse the request with a 400 naming `logprobs`.
"""

from __future__ import annotations

import pytest

from conftest import _openai_client

TOP = 2


def genai_client(base: str):
    from google import genai
    from google.genai import types

    return genai.Client(
        api_key="k",
        http_options=types.HttpOptions(base_url=base, api_version="v1beta", timeout=30_000),
    )


def genai_config(top: int = TOP):
    from google.genai import types

    return types.GenerateContentConfig(response_logprobs=True, logprobs=top)


def check_openai_tokens(text: str, tokens) -> None:
    assert tokens, "no logprobs"
    assert "".join(t.token for t in tokens) == text
    for t in tokens:
        assert t.logprob <= 0
        assert bytes(t.bytes) == t.token.encode()
        assert len(t.top_logprobs) == TOP
        assert t.top_logprobs[0].token == t.token
        assert t.top_logprobs[0].logprob == t.logprob


def check_gemini_result(text: str, result) -> None:
    assert result is not None, "no logprobs_result"
    chosen = result.chosen_candidates
    assert "".join(c.token for c in chosen) == text
    assert len(result.top_candidates) == len(chosen)
    for c, top in zip(chosen, result.top_candidates):
        assert c.log_probability <= 0
        assert len(top.candidates) == TOP
        assert top.candidates[0].token == c.token


@pytest.fixture(scope="module")
def openai_sdk(sluice):
    c = _openai_client(f"{sluice.base}/v1")
    yield c
    c.close()


# OpenAI clients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_openai_client_gets_logprobs(openai_sdk, provider):
    r = openai_sdk.chat.completions.create(
        model=f"{provider}/echo-model",
        messages=[{"role": "user", "content": "hello there world"}],
        logprobs=True,
        top_logprobs=TOP,
    )
    choice = r.choices[0]
    assert choice.message.content == "echo: hello there world"
    check_openai_tokens(choice.message.content, choice.logprobs.content)


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_openai_client_streams_logprobs_beside_their_text(openai_sdk, provider):
    stream = openai_sdk.chat.completions.create(
        model=f"{provider}/echo-model",
        messages=[{"role": "user", "content": "hello there world"}],
        logprobs=True,
        top_logprobs=TOP,
        stream=True,
    )
    text, tokens = "", []
    for chunk in stream:
        for c in chunk.choices:
            text += c.delta.content or ""
            if c.logprobs and c.logprobs.content:
                # Each chunk's tokens spell that chunk's text.
                assert "".join(t.token for t in c.logprobs.content) == c.delta.content
                tokens += c.logprobs.content
    assert text == "echo: hello there world"
    check_openai_tokens(text, tokens)


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_openai_client_asking_for_chosen_tokens_only_gets_an_empty_top_list(openai_sdk, provider):
    r = openai_sdk.chat.completions.create(
        model=f"{provider}/echo-model",
        messages=[{"role": "user", "content": "hello there"}],
        logprobs=True,
    )
    tokens = r.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == r.choices[0].message.content
    assert all(t.top_logprobs == [] for t in tokens), tokens


@pytest.mark.parametrize("provider", ["openai", "gemini", "anthropic"])
def test_openai_client_without_the_ask_gets_none(openai_sdk, provider):
    r = openai_sdk.chat.completions.create(
        model=f"{provider}/echo-model",
        messages=[{"role": "user", "content": "hello"}],
    )
    assert r.choices[0].logprobs is None


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "cohere"])
def test_openai_client_asking_a_format_without_them_gets_a_400(openai_sdk, provider):
    import openai

    with pytest.raises(openai.BadRequestError) as e:
        openai_sdk.chat.completions.create(
            model=f"{provider}/echo-model",
            messages=[{"role": "user", "content": "hello"}],
            logprobs=True,
        )
    assert e.value.status_code == 400
    assert "logprobs" in str(e.value)


# Gemini clients ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def genai_sdk(sluice):
    c = genai_client(f"{sluice.base}/genai")
    yield c
    c.close()


@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_gemini_client_gets_logprobs(genai_sdk, provider):
    r = genai_sdk.models.generate_content(
        model=f"{provider}/echo-model", contents="hello there world", config=genai_config()
    )
    assert r.text == "echo: hello there world"
    cand = r.candidates[0]
    check_gemini_result(r.text, cand.logprobs_result)
    assert cand.avg_logprobs is not None and cand.avg_logprobs <= 0


@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_gemini_client_streams_logprobs_beside_their_text(genai_sdk, provider):
    text, chosen, tops = "", [], []
    for chunk in genai_sdk.models.generate_content_stream(
        model=f"{provider}/echo-model", contents="hello there world", config=genai_config()
    ):
        cand = chunk.candidates[0]
        piece = chunk.text or ""
        text += piece
        if cand.logprobs_result:
            # Each chunk's tokens spell that chunk's text.
            assert "".join(c.token for c in cand.logprobs_result.chosen_candidates) == piece
            chosen += cand.logprobs_result.chosen_candidates
            tops += cand.logprobs_result.top_candidates
    assert text == "echo: hello there world"
    assert "".join(c.token for c in chosen) == text
    assert [t.candidates[0].token for t in tops] == [c.token for c in chosen]


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_gemini_client_asking_a_format_without_them_gets_a_400(genai_sdk, provider):
    from google.genai import errors

    with pytest.raises(errors.ClientError) as e:
        genai_sdk.models.generate_content(
            model=f"{provider}/echo-model", contents="hello", config=genai_config()
        )
    assert e.value.code == 400
    assert "logprobs" in str(e.value)


# The mock speaks both formats' real forms -----------------------------------------------------------


def test_openai_sdk_straight_at_the_mock(mock_client):
    r = mock_client.chat.completions.create(
        model="echo-model",
        messages=[{"role": "user", "content": "one two"}],
        logprobs=True,
        top_logprobs=TOP,
    )
    check_openai_tokens(r.choices[0].message.content, r.choices[0].logprobs.content)


def test_genai_sdk_straight_at_the_mock(sluice_mock):
    c = genai_client(sluice_mock.base)
    try:
        r = c.models.generate_content(model="echo-model", contents="one two", config=genai_config())
        check_gemini_result(r.text, r.candidates[0].logprobs_result)
    finally:
        c.close()


# Cohere clients --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohere_sdk(sluice):
    import cohere

    return cohere.ClientV2(api_key="k", base_url=f"{sluice.base}/cohere", timeout=30)


@pytest.mark.parametrize("provider", ["openai", "gemini", "anthropic"])
def test_cohere_client_asking_another_format_gets_a_400(cohere_sdk, provider):
    import cohere

    with pytest.raises(cohere.BadRequestError) as e:
        cohere_sdk.chat(
            model=f"{provider}/echo-model", messages=[{"role": "user", "content": "hello"}], logprobs=True
        )
    assert "logprobs" in str(e.value.body)


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_cohere_client_not_asking_is_answered(cohere_sdk, provider):
    r = cohere_sdk.chat(
        model=f"{provider}/echo-model", messages=[{"role": "user", "content": "hello"}], logprobs=False
    )
    assert r.message.content[0].text == "echo: hello"
