"""An OpenAI provider with `chat_via_responses = true` (models OpenAI serves only through the
Responses API): chat requests of every client format go to its `/v1/responses`, and the answer
and stream come back in the client's format. sluice-mock answers `/v1/responses` from the same
scenarios as every chat route (src/mock/scenario.rs): `echo: <last user text>`; `tool-model`
says `Let me check.` and calls the first tool with `{"city":"Paris"}`; after a tool result,
`tool said: <result>`. A second provider, `compat` (`responses_api = false`), takes the other
way: Responses requests to the mock's Chat Completions."""

from __future__ import annotations

import json

import anthropic
import cohere
import openai
import pytest
import refusals

from conftest import _openai_client, _teardown, start_gateway

PROMPT = "say something nice"
ECHO = f"echo: {PROMPT}"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def gateway(sluice_mock, tmp_path_factory):
    config = (
        '[routing]\ndefault_provider = "pro"\n\n'
        f'[[providers]]\nname = "pro"\nkind = "openai"\nbase_url = "{sluice_mock.base}"\nkeys = ["k"]\n'
        "chat_via_responses = true\n\n"
        # The other way round: Responses requests go to its Chat Completions.
        f'[[providers]]\nname = "compat"\nkind = "openai"\nbase_url = "{sluice_mock.base}"\nkeys = ["k"]\n'
        "responses_api = false\n"
    )
    server = start_gateway(tmp_path_factory.mktemp("via-responses"), "sluice-via-responses", config)
    yield server
    _teardown(server)


@pytest.fixture(scope="module")
def oai(gateway):
    c = _openai_client(f"{gateway.base}/v1")
    yield c
    c.close()


def test_an_openai_chat_is_answered_through_the_responses_api(oai):
    r = oai.chat.completions.create(
        model="o3-pro", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": PROMPT}]
    )
    assert r.object == "chat.completion"
    # The upstream's id: a Responses answer's (`resp_...`), not a chat completion's.
    assert r.id.startswith("resp_"), r.id
    assert r.choices[0].message.content == ECHO
    assert r.choices[0].finish_reason == "stop"
    # The system prompt went as `instructions`, counted with the rest of the input.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (2 + 3, 4)


def test_a_streamed_chat_with_usage(oai):
    chunks = list(
        oai.chat.completions.create(
            model="o3-pro",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ECHO
    assert all(c.id.startswith("resp_") for c in chunks), chunks[0].id
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4


def test_the_tool_loop_through_the_responses_api(oai):
    messages = [{"role": "user", "content": "weather in Paris?"}]
    r = oai.chat.completions.create(model="tool-model", messages=messages, tools=[WEATHER])
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    messages += [msg.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "sunny"}]
    r = oai.chat.completions.create(model="tool-model", messages=messages, tools=[WEATHER])
    assert r.choices[0].message.content == "tool said: sunny"


def test_streamed_tool_calls(oai):
    chunks = list(
        oai.chat.completions.create(
            model="tool-model", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER], stream=True
        )
    )
    args = "".join(
        tc.function.arguments or ""
        for c in chunks
        if c.choices
        for tc in (c.choices[0].delta.tool_calls or [])
    )
    assert json.loads(args) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_what_the_responses_api_lacks_is_a_400_naming_it(oai):
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="o3-pro", messages=[{"role": "user", "content": PROMPT}], stop=["x"])
    assert "stop" in e.value.message


def test_an_upstream_error_keeps_its_status(oai):
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="error-429", messages=[{"role": "user", "content": PROMPT}])


def test_a_stream_that_fails_half_way(oai):
    chunks = []
    with pytest.raises(openai.APIError):
        for c in oai.chat.completions.create(
            model="midstream-model", messages=[{"role": "user", "content": "one two three four five six"}], stream=True
        ):
            chunks.append(c)
    assert not any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


def test_an_anthropic_client(gateway):
    c = anthropic.Anthropic(api_key="x", base_url=gateway.base, max_retries=0)
    m = c.messages.create(model="o3-pro", max_tokens=50, messages=[{"role": "user", "content": PROMPT}])
    assert m.content[0].text == ECHO and m.stop_reason == "end_turn"
    with c.messages.stream(model="o3-pro", max_tokens=50, messages=[{"role": "user", "content": PROMPT}]) as s:
        final = s.get_final_message()
    assert final.content[0].text == ECHO
    assert final.usage.output_tokens == 4


def test_a_limit_under_the_responses_apis_16_is_answered(gateway, oai):
    """A model probe's `max_tokens: 1` is valid for Anthropic and Chat Completions; the Responses
    API (the mock as OpenAI) refuses anything under 16, so it goes as 16 and is answered."""
    c = anthropic.Anthropic(api_key="x", base_url=gateway.base, max_retries=0)
    long_prompt = " ".join(f"w{i}" for i in range(30))
    m = c.messages.create(model="o3-pro", max_tokens=1, messages=[{"role": "user", "content": long_prompt}])
    assert m.stop_reason == "max_tokens"
    assert m.usage.output_tokens == 16
    r = oai.chat.completions.create(model="o3-pro", max_tokens=5, messages=[{"role": "user", "content": PROMPT}])
    assert r.choices[0].message.content == ECHO
    # A Responses client asking for less is refused in OpenAI's words, as OpenAI itself does.
    with pytest.raises(openai.BadRequestError) as e:
        oai.responses.create(model="o3-pro", input=PROMPT, max_output_tokens=15)
    assert e.value.param == "max_output_tokens"
    assert "Expected a value >= 16, but got 15 instead" in e.value.message


PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def test_an_anthropic_tool_result_with_an_image(gateway):
    # The Responses API takes images in a function result (`output` as parts): an Anthropic
    # client's screenshot-returning tool keeps it there (Chat Completions gets it in a user
    # message after the tool messages, test_format_features.py).
    c = anthropic.Anthropic(api_key="x", base_url=gateway.base, max_retries=0)
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}, image]}
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [result]},
    ]
    tool = {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}
    m = c.messages.create(model="o3-pro", max_tokens=50, messages=messages, tools=[tool])
    assert m.content[0].text == "tool said: sunny [image]"


def test_an_anthropic_failed_tool_result_says_so_in_the_function_output(gateway):
    # A `function_call_output` has no error flag: the failure is said in its text.
    c = anthropic.Anthropic(api_key="x", base_url=gateway.base, max_retries=0)
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "timeout", "is_error": True}]},
    ]
    tool = {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}
    m = c.messages.create(model="o3-pro", max_tokens=50, messages=messages, tools=[tool])
    assert m.content[0].text == "tool said: Error: timeout"


def test_a_cohere_v1_client(gateway):
    co = cohere.Client(api_key="x", base_url=gateway.base, max_retries=0, log_warning_experimental_features=False)
    r = co.chat(model="o3-pro", message=PROMPT)
    assert (r.text, r.finish_reason) == (ECHO, "COMPLETE")


def test_a_refusal_crosses_between_the_two_apis(oai):
    # Chat -> the upstream's Responses API, and Responses -> its Chat Completions: each API's
    # refusal becomes the other's, answered or streamed (streamed, it once became text).
    refusals.check_chat(oai, "refusal-model")
    refusals.check_responses(oai, "compat/refusal-model")


def test_a_responses_client_still_goes_as_sent(oai):
    r = oai.responses.create(model="o3-pro", input=PROMPT)
    assert r.output_text == ECHO
