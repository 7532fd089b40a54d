"""OpenAI's legacy Completions (`client.completions.create`) with every provider kind behind it.

An OpenAI provider gets the request as sent; any other provider gets a chat request whose one user
message is the prompt, and its answer comes back as a `text_completion` (a stream: as
`text_completion` chunks, the usage chunk last when asked for, then `[DONE]`). sluice-mock answers
completions from the same scenarios as chat (src/mock/scenario.rs), with OpenAI's default
`max_tokens` of 16, so every provider must give the same completion: `echo: <prompt>`, usage input
= the prompt's words, output = the text's words.
"""

from __future__ import annotations

import openai
import pytest

from conftest import _openai_client

PROVIDERS = ["openai", "mock", "anthropic", "gemini", "bedrock", "cohere"]
PROMPT = "say something nice"


@pytest.fixture(scope="module")
def client(sluice):
    c = _openai_client(f"{sluice.base}/v1")
    yield c
    c.close()


def model(provider: str, scenario: str = "echo-model") -> str:
    # The in-process mock provider answers any model it is routed; `mock/` names it.
    return f"{provider}/{scenario}"


def words(text: str) -> int:
    return len(text.split())


def streamed(client, **kw):
    """(text, finish reason, usage chunk or None, chunks) of a completion stream."""
    chunks = list(client.completions.create(stream=True, **kw))
    text, finish, usage = "", None, None
    for c in chunks:
        assert c.object == "text_completion", c
        if c.choices:
            assert len(c.choices) == 1 and c.choices[0].index == 0, c
            text += c.choices[0].text
            finish = c.choices[0].finish_reason or finish
        else:
            usage = c.usage
    return text, finish, usage, chunks


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_completion_through_every_provider(client, provider):
    r = client.completions.create(model=model(provider), prompt=PROMPT)
    assert r.object == "text_completion"
    assert len(r.choices) == 1
    c = r.choices[0]
    assert (c.text, c.index, c.finish_reason, c.logprobs) == (f"echo: {PROMPT}", 0, "stop", None)
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (3, 4)
    assert r.usage.total_tokens == 7


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_completion_stream_spells_the_same_completion(client, provider):
    text, finish, usage, chunks = streamed(
        client, model=model(provider), prompt=PROMPT, stream_options={"include_usage": True}
    )
    assert (text, finish) == (f"echo: {PROMPT}", "stop")
    assert chunks[-1].choices == [] and usage is not None, "the usage chunk comes last"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 4, 7)
    assert len({c.id for c in chunks}) == 1
    # Without include_usage there is no usage chunk.
    text, finish, usage, chunks = streamed(client, model=model(provider), prompt=PROMPT)
    assert (text, finish, usage) == (f"echo: {PROMPT}", "stop", None)
    assert all(c.choices for c in chunks)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_openais_default_limit_of_16_tokens_applies(client, provider):
    prompt = " ".join(f"w{i}" for i in range(30))
    r = client.completions.create(model=model(provider), prompt=prompt)
    c = r.choices[0]
    assert c.finish_reason == "length"
    assert words(c.text) == 16 and f"echo: {prompt}".startswith(c.text), c.text
    r = client.completions.create(model=model(provider), prompt=prompt, max_tokens=3)
    assert (r.choices[0].text, r.choices[0].finish_reason) == ("echo: w0 w1", "length")
    text, finish, _, _ = streamed(client, model=model(provider), prompt=prompt, max_tokens=3)
    assert (text, finish) == ("echo: w0 w1", "length")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stop_sequence_ends_the_completion(client, provider):
    r = client.completions.create(model=model(provider), prompt=PROMPT, stop=["nice"])
    assert (r.choices[0].text, r.choices[0].finish_reason) == ("echo: say something ", "stop")


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_log_probabilities_in_the_legacy_shape(client, provider):
    r = client.completions.create(model=model(provider), prompt=PROMPT, logprobs=2)
    c = r.choices[0]
    lp = c.logprobs
    assert lp is not None and lp.tokens, c
    assert "".join(lp.tokens) == c.text
    assert len(lp.token_logprobs) == len(lp.tokens) == len(lp.top_logprobs) == len(lp.text_offset)
    offsets = [sum(len(t) for t in lp.tokens[:i]) for i in range(len(lp.tokens))]
    assert lp.text_offset == offsets
    for token, chosen, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert chosen <= 0 and len(top) == 2 and top[token] == chosen
    # Streamed: each chunk's tokens spell its text, and the offsets run on across chunks.
    _, _, _, chunks = streamed(client, model=model(provider), prompt=PROMPT, logprobs=2)
    tokens, streamed_offsets = [], []
    for ch in chunks:
        if ch.choices and ch.choices[0].logprobs:
            assert "".join(ch.choices[0].logprobs.tokens) == ch.choices[0].text
            tokens += ch.choices[0].logprobs.tokens
            streamed_offsets += ch.choices[0].logprobs.text_offset
    assert tokens == lp.tokens and streamed_offsets == offsets


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "cohere"])
def test_log_probabilities_a_provider_cannot_give_are_refused(client, provider):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model(provider), prompt=PROMPT, logprobs=1)
    assert e.value.param == "logprobs"


@pytest.mark.parametrize(
    "kw, param",
    [
        ({"prompt": ["one", "two"]}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": PROMPT, "echo": True}, "echo"),
        ({"prompt": PROMPT, "suffix": "the end"}, "suffix"),
        ({"prompt": PROMPT, "best_of": 2}, "best_of"),
        ({"prompt": PROMPT, "n": 2}, "n"),
        ({"prompt": PROMPT, "extra_body": {"messages": []}}, "messages"),
    ],
)
def test_what_a_chat_model_cannot_do_is_a_400_naming_the_parameter(client, kw, param):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model("anthropic"), **kw)
    assert e.value.param == param, e.value
    # An OpenAI provider takes them as they are (the same request passes through).
    if param not in ("messages", "n", "best_of"):
        client.completions.create(model=model("openai"), **kw)


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock", "cohere"])
def test_upstream_errors_are_the_sdks_own(client, provider):
    with pytest.raises(openai.RateLimitError):
        client.completions.create(model=model(provider, "error-429"), prompt=PROMPT)
    with pytest.raises(openai.RateLimitError):
        list(client.completions.create(model=model(provider, "error-429"), prompt=PROMPT, stream=True))


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock", "cohere"])
@pytest.mark.parametrize("scenario", ["midstream-model", "cutoff-model", "unfinished-model"])
def test_a_stream_that_fails_half_way_raises_after_its_text(client, provider, scenario):
    got = ""
    with pytest.raises(openai.APIError) as e:
        for c in client.completions.create(
            model=model(provider, scenario), prompt="one two three four five six", stream=True
        ):
            got += c.choices[0].text if c.choices else ""
    # Raised in the stream, after its first half: not an HTTP error before it.
    assert not isinstance(e.value, openai.APIStatusError), e.value
    assert got and "echo: one two three four five six".startswith(got), got
