"""Cohere's v1 Chat API (`cohere.Client`: `co.chat` / `co.chat_stream`, `POST /v1/chat`) with
every provider kind behind it.

The v1 request is one user turn (`message`) on top of `chat_history` (USER / CHATBOT / SYSTEM
items, CHATBOT items with `tool_calls`, TOOL items with `tool_results`), a `preamble`, tools as
`parameter_definitions`, and the results of the last turn's calls as `tool_results` (with
`message=""`). The answer is one JSON object (`text`, `generation_id`, `response_id`,
`finish_reason`, `tool_calls` when there are calls, `chat_history`, `meta`); the stream is
newline-delimited JSON (`application/stream+json`): `stream-start`, `text-generation` or
`tool-calls-chunk` events, `tool-calls-generation` with the whole calls, `stream-end` with the
whole answer, each with `is_finished`.

A Cohere provider gets the v1 request as sent (sluice-mock answers `/v1/chat` itself); any other
provider gets a chat request in its own format. What needs Cohere's own services (stored
conversations, connectors, documents, search queries, raw prompts, prompt truncation) is refused
with a 400 naming the field when the provider is not Cohere.

sluice-mock answers from the same scenarios everywhere (src/mock/scenario.rs): `echo: <last user
text>`, usage input = the words of the preamble and every text part, output = the words of the
answer (5 per tool call); `tool-model` says `Let me check.` and calls the first tool with
`{"city":"Paris"}`; `parallel-model` calls it for Paris and Rome; after a tool result the answer
is `tool said: <result>` (one output object: its JSON; several: the JSON array of them).
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import cohere
import cohere.errors
import pytest
from cohere.core.api_error import ApiError

PROVIDERS = ["mock", "openai", "anthropic", "gemini", "bedrock", "cohere"]
# Every provider that sluice-mock answers over HTTP (the in-process `mock` is not one).
UPSTREAMS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]
# Providers that are not Cohere: Cohere-only fields are refused through them.
NOT_COHERE = ["mock", "openai", "anthropic", "gemini", "bedrock"]
# Providers whose own format says "stopped at a stop sequence" (OpenAI and Gemini have no value
# of their own for it: their answer is a normal end).
STOP_SEQUENCE_KNOWN = ["mock", "anthropic", "bedrock", "cohere"]

PROMPT = "say something nice"
ECHO = f"echo: {PROMPT}"
LONG_PROMPT = "stream me a few words please"
SYSTEM = "be very brief"
THIRTY = " ".join(f"w{i}" for i in range(30))
FAILING = "one two three four five six"
# What httpx's line reader breaks a line at besides \n and \r, and JSON leaves unescaped.
SEPARATORS = "a\u2028b\u2029c\u0085d"
QUESTION = "weather in Paris?"

WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city",
    "parameter_definitions": {
        "city": {"type": "str", "description": "The city to look up", "required": True},
    },
}
TOOLS = [WEATHER]
TIME = {
    "name": "get_time",
    "description": "The local time in a city",
    "parameter_definitions": {"city": {"type": "str", "description": "The city", "required": True}},
}

MOCK_MODEL = "command-r-plus"

# The SDK's v1 union types read a deprecated pydantic attribute on every event.
pytestmark = pytest.mark.filterwarnings("ignore:The `__fields__` attribute is deprecated")


def _client(base_url: str) -> cohere.Client:
    # No retries: every test sees exactly one HTTP exchange, and error tests stay fast.
    return cohere.Client(
        api_key="x",
        base_url=base_url,
        max_retries=0,
        timeout=30.0,
        log_warning_experimental_features=False,
    )


@pytest.fixture(scope="module")
def co(sluice):
    return _client(sluice.base)


@pytest.fixture(scope="module")
def co_prefixed(sluice):
    """The same gateway through the /cohere/v1/chat twin route."""
    return _client(f"{sluice.base}/cohere")


@pytest.fixture(scope="module")
def direct(sluice_mock):
    """The SDK pointed straight at sluice-mock: the mock must speak v1 itself."""
    return _client(sluice_mock.base)


def model(provider: str, scenario: str = "echo-model") -> str:
    return f"{provider}/{scenario}"


def words(text: str) -> int:
    return len(text.split())


# ---- normalising SDK objects ---------------------------------------------------------------------


def _get(obj, key):
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def call_of(c) -> dict:
    return {"name": _get(c, "name"), "parameters": _get(c, "parameters")}


def calls_of(calls) -> list:
    return [call_of(c) for c in calls or []]


def item_of(m) -> dict:
    """A chat_history item (SDK object or dict) as a plain dict, empty fields left out."""
    role = _get(m, "role")
    out = {"role": role}
    if role == "TOOL":
        out["tool_results"] = [
            {"call": call_of(_get(r, "call")), "outputs": list(_get(r, "outputs") or [])}
            for r in _get(m, "tool_results") or []
        ]
    else:
        out["message"] = _get(m, "message")
        if _get(m, "tool_calls"):
            out["tool_calls"] = calls_of(_get(m, "tool_calls"))
    return out


def history_of(items) -> list:
    return [item_of(m) for m in items or []]


def weather_call(city: str) -> dict:
    return {"name": "get_weather", "parameters": {"city": city}}


def extra(event, key):
    """A field the SDK's type does not declare (`is_finished`, `error`), kept as an extra."""
    extras = getattr(event, "model_extra", None) or {}
    if key in extras:
        return extras[key]
    return getattr(event, key, None)


def tool_said(text: str):
    """The JSON a `tool said: <JSON>` answer quotes."""
    prefix = "tool said: "
    assert text.startswith(prefix), text
    return json.loads(text[len(prefix):])


# ---- shape checks -------------------------------------------------------------------------------


def check_meta(meta, input_tokens: int, output_tokens: int) -> None:
    assert meta is not None
    assert meta.api_version is not None and meta.api_version.version == "1", meta
    assert (meta.billed_units.input_tokens, meta.billed_units.output_tokens) == (input_tokens, output_tokens), meta
    assert (meta.tokens.input_tokens, meta.tokens.output_tokens) == (input_tokens, output_tokens), meta


def meta_of(meta) -> tuple:
    return (
        meta.api_version.version,
        meta.billed_units.input_tokens,
        meta.billed_units.output_tokens,
        meta.tokens.input_tokens,
        meta.tokens.output_tokens,
    )


def check_answer(r, text: str, finish: str = "COMPLETE") -> None:
    assert r.text == text, r.text
    assert isinstance(r.generation_id, str) and r.generation_id, r.generation_id
    assert isinstance(r.response_id, str) and r.response_id, r.response_id
    assert r.finish_reason == finish, r.finish_reason


def check_calls(r, cities: list[str]) -> None:
    assert r.tool_calls, "no tool calls"
    for c in r.tool_calls:
        assert isinstance(c.parameters, dict), c
    assert calls_of(r.tool_calls) == [weather_call(city) for city in cities], r.tool_calls


def summary(r) -> tuple:
    """What a stream's final response must share with the unstreamed answer."""
    return (r.text, calls_of(r.tool_calls), r.finish_reason, meta_of(r.meta))


# ---- streams ------------------------------------------------------------------------------------


def stream_events(co, **kw) -> list:
    """Every event of `chat_stream`, checked for what holds in any stream: `stream-start` (with a
    generation id) first, exactly one `stream-end`, last; `is_finished` False on every event but
    the last, True there."""
    events = list(co.chat_stream(**kw))
    assert events, "an empty stream"
    types = [e.event_type for e in events]
    assert types[0] == "stream-start", types
    assert isinstance(events[0].generation_id, str) and events[0].generation_id
    assert types.count("stream-end") == 1 and types[-1] == "stream-end", types
    flags = [extra(e, "is_finished") for e in events]
    assert flags == [False] * (len(events) - 1) + [True], list(zip(types, flags))
    return events


def text_of(events) -> str:
    return "".join(e.text for e in events if e.event_type == "text-generation")


def plan_of(events) -> str:
    """The text of a tool turn: `text-generation` pieces or `tool-calls-chunk` events with text."""
    out = ""
    for e in events:
        if e.event_type == "text-generation":
            out += e.text
        elif e.event_type == "tool-calls-chunk":
            if e.text is not None:
                out += e.text
            elif getattr(e, "tool_call_delta", None) is not None and e.tool_call_delta.text is not None:
                out += e.tool_call_delta.text
    return out


def call_deltas(events) -> list:
    return [
        (i, e.tool_call_delta)
        for i, e in enumerate(events)
        if e.event_type == "tool-calls-chunk"
        and getattr(e, "tool_call_delta", None) is not None
        and (e.tool_call_delta.name is not None or e.tool_call_delta.parameters is not None)
    ]


def check_tool_stream(events, cities: list[str]) -> None:
    """A tool turn streamed: the text first, then per call a delta with its index and name and
    deltas with parameter fragments, then one `tool-calls-generation` with the whole calls, then
    `stream-end`."""
    types = [e.event_type for e in events]
    assert types[-2] == "tool-calls-generation", types
    assert types.count("tool-calls-generation") == 1, types
    deltas = call_deltas(events)
    assert deltas, types
    by_index: dict = {}
    for _, d in deltas:
        assert d.index is not None, d
        by_index.setdefault(int(d.index), []).append(d)
    assert sorted(by_index) == list(range(len(cities))), by_index
    for i, city in enumerate(cities):
        mine = by_index[i]
        assert mine[0].name == "get_weather", mine
        assert all(d.name is None for d in mine[1:]), mine
        fragments = [d.parameters for d in mine if d.parameters]
        assert fragments, f"call {i}: the parameters came in no fragment"
        assert json.loads("".join(fragments)) == {"city": city}
    # Text pieces of the turn come before its calls.
    first_call = deltas[0][0]
    for i, e in enumerate(events):
        if e.event_type == "text-generation":
            assert i < first_call, types
    generation = events[-2]
    for c in generation.tool_calls:
        assert isinstance(c.parameters, dict), c
    assert calls_of(generation.tool_calls) == [weather_call(c) for c in cities]


# ---- one answer through every provider ----------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_chat_through_every_provider(co, provider):
    r = co.chat(model=model(provider), message=PROMPT)
    check_answer(r, ECHO)
    assert not r.tool_calls
    check_meta(r.meta, 3, 4)
    assert history_of(r.chat_history) == [
        {"role": "USER", "message": PROMPT},
        {"role": "CHATBOT", "message": ECHO},
    ]


@pytest.mark.parametrize("provider", ["mock", "anthropic", "cohere"])
def test_the_cohere_prefixed_route(co_prefixed, provider):
    r = co_prefixed.chat(model=model(provider), message=PROMPT)
    check_answer(r, ECHO)
    check_meta(r.meta, 3, 4)
    events = stream_events(co_prefixed, model=model(provider), message=LONG_PROMPT)
    assert text_of(events) == f"echo: {LONG_PROMPT}"


HISTORY = [
    {"role": "SYSTEM", "message": "answer in English"},
    {"role": "USER", "message": "first question"},
    {"role": "CHATBOT", "message": "first answer"},
]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_preamble_and_chat_history_arrive(co, provider):
    message = "second one please"
    r = co.chat(model=model(provider), message=message, preamble=SYSTEM, chat_history=HISTORY)
    check_answer(r, f"echo: {message}")
    # The mock counts the preamble and every text of the history: all of it arrived.
    check_meta(r.meta, 3 + 3 + 2 + 2 + 3, 4)
    assert history_of(r.chat_history) == [
        *HISTORY,
        {"role": "USER", "message": message},
        {"role": "CHATBOT", "message": f"echo: {message}"},
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_common_settings_are_accepted(co, provider):
    """Settings a v1 client may send: taken (or, where a provider has no such knob, left out),
    never a reason to fail; the Cohere-only ones at their harmless values are no refusal."""
    # Anthropic has no seed: Sluice refuses it there with a 400 naming it (as on every route).
    seed = {} if provider == "anthropic" else {"seed": 7}
    r = co.chat(
        model=model(provider),
        message=PROMPT,
        temperature=0.3,
        k=20,
        p=0.9,
        **seed,
        frequency_penalty=0.1,
        presence_penalty=0.1,
        max_tokens=100,
        force_single_step=True,
        safety_mode="CONTEXTUAL",
        citation_quality="FAST",
        prompt_truncation="OFF",
        search_queries_only=False,
        raw_prompting=False,
    )
    check_answer(r, ECHO)
    check_meta(r.meta, 3, 4)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_cut_answer_finishes_with_max_tokens(co, provider):
    for kw in [dict(model=model(provider), max_tokens=3), dict(model=model(provider, "length-model"))]:
        r = co.chat(message=THIRTY, **kw)
        check_answer(r, "echo: w0 w1", finish="MAX_TOKENS")
        check_meta(r.meta, 30, 3)
        events = stream_events(co, message=THIRTY, **kw)
        assert text_of(events) == "echo: w0 w1"
        end = events[-1]
        assert end.finish_reason == "MAX_TOKENS"
        assert summary(end.response) == summary(r)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stop_sequence_ends_the_answer(co, provider):
    r = co.chat(model=model(provider), message="alpha beta END gamma", stop_sequences=["END"])
    assert r.text == "echo: alpha beta "
    expected = "STOP_SEQUENCE" if provider in STOP_SEQUENCE_KNOWN else "COMPLETE"
    assert r.finish_reason == expected
    check_meta(r.meta, 4, 3)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_json_response_format_with_a_schema_reaches_the_upstream(co, provider):
    fmt = {
        "type": "json_object",
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    r = co.chat(model=model(provider, "inspect-model"), message="hi", response_format=fmt)
    # The inspect scenario reports the response format the upstream decoded.
    assert "; response_format: json_schema" in r.text, r.text


# ---- tools --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_call(co, provider):
    r = co.chat(model=model(provider, "tool-model"), message=QUESTION, tools=TOOLS)
    # v1 has no TOOL_CALL finish: a turn that calls tools is complete.
    check_answer(r, "Let me check.")
    check_calls(r, ["Paris"])
    check_meta(r.meta, 3, 3 + 5)
    assert history_of(r.chat_history) == [
        {"role": "USER", "message": QUESTION},
        {"role": "CHATBOT", "message": "Let me check.", "tool_calls": [weather_call("Paris")]},
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_documented_tool_loop(co, provider):
    """Cohere's own loop: the calls answered with `tool_results` on the answer's `chat_history`,
    `message=""`; then the conversation goes on from the new history."""
    res = co.chat(model=model(provider, "tool-model"), message=QUESTION, tools=TOOLS)
    output = {"city": "Paris", "weather": "sunny", "temp_c": 24}
    results = [{"call": c, "outputs": [output]} for c in res.tool_calls]
    r = co.chat(
        model=model(provider, "tool-model"),
        message="",
        tools=TOOLS,
        chat_history=res.chat_history,
        tool_results=results,
    )
    assert r.finish_reason == "COMPLETE"
    assert r.generation_id and r.response_id
    assert tool_said(r.text) == output
    assert not r.tool_calls
    # The history's texts arrived ("weather in Paris?" + "Let me check."); the answer is counted.
    check_meta(r.meta, 6, words(r.text))
    assert history_of(r.chat_history) == [
        {"role": "USER", "message": QUESTION},
        {"role": "CHATBOT", "message": "Let me check.", "tool_calls": [weather_call("Paris")]},
        {"role": "TOOL", "tool_results": [{"call": weather_call("Paris"), "outputs": [output]}]},
        {"role": "CHATBOT", "message": r.text},
    ]
    # A next question on top of that history (a TOOL item in it) is an ordinary turn.
    follow = co.chat(
        model=model(provider, "tool-model"), message="and in Rome?", chat_history=r.chat_history, tools=TOOLS
    )
    assert follow.text == "Let me check." and calls_of(follow.tool_calls) == [weather_call("Paris")]
    plain = co.chat(model=model(provider), message="thanks a lot", chat_history=r.chat_history, tools=TOOLS)
    check_answer(plain, "echo: thanks a lot")
    assert len(plain.chat_history) == 6


@pytest.mark.parametrize("provider", PROVIDERS)
def test_several_outputs_of_one_call_are_a_json_array(co, provider):
    res = co.chat(model=model(provider, "tool-model"), message=QUESTION, tools=TOOLS)
    outputs = [{"weather": "sunny"}, {"temp_c": 24, "wind": "calm"}]
    r = co.chat(
        model=model(provider, "tool-model"),
        message="",
        tools=TOOLS,
        chat_history=res.chat_history,
        tool_results=[{"call": res.tool_calls[0], "outputs": outputs}],
    )
    assert r.finish_reason == "COMPLETE"
    assert tool_said(r.text) == outputs


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parallel_tool_calls_and_their_results(co, provider):
    question = "weather in Paris and Rome?"
    res = co.chat(model=model(provider, "parallel-model"), message=question, tools=TOOLS)
    assert res.finish_reason == "COMPLETE"
    assert res.text == ""
    check_calls(res, ["Paris", "Rome"])
    check_meta(res.meta, 5, 10)
    assert history_of(res.chat_history)[-1] == {
        "role": "CHATBOT",
        "message": "",
        "tool_calls": [weather_call("Paris"), weather_call("Rome")],
    }
    outputs = {"Paris": {"weather": "sunny"}, "Rome": {"weather": "rainy"}}
    results = [{"call": c, "outputs": [outputs[c.parameters["city"]]]} for c in res.tool_calls]
    r = co.chat(
        model=model(provider, "parallel-model"),
        message="",
        tools=TOOLS,
        chat_history=res.chat_history,
        tool_results=results,
    )
    assert r.finish_reason == "COMPLETE"
    assert tool_said(r.text) in list(outputs.values()), r.text
    tool_items = [m for m in history_of(r.chat_history) if m["role"] == "TOOL"]
    assert tool_items == [
        {
            "role": "TOOL",
            "tool_results": [
                {"call": weather_call("Paris"), "outputs": [outputs["Paris"]]},
                {"call": weather_call("Rome"), "outputs": [outputs["Rome"]]},
            ],
        }
    ]


# ---- streams ------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stream_spells_the_same_answer(co, provider):
    kw = dict(model=model(provider), message=LONG_PROMPT, preamble=SYSTEM)
    whole = co.chat(**kw)
    text = f"echo: {LONG_PROMPT}"
    check_answer(whole, text)
    events = stream_events(co, **kw)
    types = [e.event_type for e in events]
    assert set(types[1:-1]) == {"text-generation"}, types
    assert types.count("text-generation") > 1, "the text came in pieces"
    assert text_of(events) == text
    end = events[-1]
    assert end.finish_reason == "COMPLETE"
    assert summary(end.response) == summary(whole)
    check_meta(end.response.meta, 3 + 6, 7)
    assert end.response.generation_id and end.response.response_id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_tool_calls_and_the_next_turn(co, provider):
    for scenario, cities in [("tool-model", ["Paris"]), ("parallel-model", ["Paris", "Rome"])]:
        kw = dict(model=model(provider, scenario), message=QUESTION, tools=TOOLS)
        whole = co.chat(**kw)
        events = stream_events(co, **kw)
        check_tool_stream(events, cities)
        assert plan_of(events) == whole.text == ("Let me check." if scenario == "tool-model" else "")
        end = events[-1]
        assert end.finish_reason == "COMPLETE"
        assert summary(end.response) == summary(whole)
        check_calls(end.response, cities)
    # The next turn, streamed: the result is answered.
    res = co.chat(model=model(provider, "tool-model"), message=QUESTION, tools=TOOLS)
    output = {"weather": "foggy"}
    events = stream_events(
        co,
        model=model(provider, "tool-model"),
        message="",
        tools=TOOLS,
        chat_history=res.chat_history,
        tool_results=[{"call": res.tool_calls[0], "outputs": [output]}],
    )
    assert "tool-calls-generation" not in [e.event_type for e in events]
    assert tool_said(text_of(events)) == output
    assert events[-1].finish_reason == "COMPLETE"
    assert events[-1].response.text == text_of(events)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_line_separators_in_the_text_lose_no_event(co, provider):
    """The SDK reads a v1 stream with httpx's `iter_lines`, which breaks lines where
    str.splitlines() does (U+2028, U+2029, U+0085 too), and silently skips pieces that are not
    JSON: written raw inside a JSON string, these characters would cost their events,
    `stream-end` (and with it the finish reason) included."""
    events = stream_events(co, model=model(provider), message=SEPARATORS)
    assert text_of(events) == f"echo: {SEPARATORS}"
    assert events[-1].finish_reason == "COMPLETE"
    assert events[-1].response.text == f"echo: {SEPARATORS}"


# ---- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_error_before_the_answer_is_the_sdks_own(co, provider):
    with pytest.raises(cohere.errors.TooManyRequestsError) as info:
        co.chat(model=model(provider, "error-429"), message=PROMPT)
    assert info.value.status_code == 429
    assert "429" in info.value.body["message"]
    assert info.value.body["id"]
    with pytest.raises(cohere.errors.TooManyRequestsError) as info:
        list(co.chat_stream(model=model(provider, "error-429"), message=PROMPT))
    assert info.value.status_code == 429
    assert "429" in info.value.body["message"]
    assert info.value.body["id"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stream_that_fails_half_way_ends_with_error(co, provider):
    """Once the 200 has gone out, a failure is the stream's own: the text so far, then a
    `stream-end` with `finish_reason: ERROR` and the `error` message; no exception."""
    events = stream_events(co, model=model(provider, "midstream-model"), message=FAILING)
    text = text_of(events)
    full = f"echo: {FAILING}"
    assert text and full.startswith(text) and text != full, text
    end = events[-1]
    assert end.finish_reason == "ERROR", end
    error = extra(end, "error")
    assert isinstance(error, str) and error, end


@pytest.mark.parametrize("provider", UPSTREAMS)
@pytest.mark.parametrize("scenario", ["cutoff-model", "unfinished-model"])
def test_a_stream_cut_short_ends_with_error(co, provider, scenario):
    """The upstream's body just stops (its connection closed, or its body ended without the
    format's end) between two events: translated, or relayed as it is (cohere), the client gets
    the text so far, then a `stream-end` with `finish_reason: ERROR`; never COMPLETE."""
    events = stream_events(co, model=model(provider, scenario), message=FAILING)
    types = [e.event_type for e in events]
    assert types and types[0] == "stream-start", types
    ends = [e for e in events if e.event_type == "stream-end"]
    assert len(ends) == 1 and events[-1] is ends[0], types
    assert ends[0].finish_reason == "ERROR", ends[0]
    assert "upstream stream" in extra(ends[0], "error"), ends[0]
    text = text_of(events)
    full = f"echo: {FAILING}"
    assert text and full.startswith(text) and text != full, text


# ---- what only Cohere can do --------------------------------------------------------------------

REFUSED = [
    ("conversation_id", {"conversation_id": "conv-1"}, "anthropic"),
    ("connectors", {"connectors": [{"id": "web-search"}]}, "mock"),
    ("documents", {"documents": [{"title": "Tall penguins", "snippet": "Emperors are tallest."}]}, "gemini"),
    ("search_queries_only", {"search_queries_only": True}, "bedrock"),
    ("raw_prompting", {"raw_prompting": True}, "openai"),
    ("prompt_truncation", {"prompt_truncation": "AUTO"}, "anthropic"),
]


@pytest.mark.parametrize("field, kw, provider", REFUSED, ids=[f"{f}-{p}" for f, _, p in REFUSED])
def test_what_needs_cohere_is_a_400_naming_the_field(co, field, kw, provider):
    with pytest.raises(cohere.errors.BadRequestError) as info:
        co.chat(model=model(provider), message=PROMPT, **kw)
    assert info.value.status_code == 400
    assert field in info.value.body["message"], info.value.body
    assert info.value.body["id"]
    with pytest.raises(cohere.errors.BadRequestError) as info:
        list(co.chat_stream(model=model(provider), message=PROMPT, **kw))
    assert field in info.value.body["message"], info.value.body


def test_a_cohere_provider_gets_cohere_only_fields_as_sent(co):
    """What only Cohere can do is Cohere's to answer: Sluice does not refuse it for a Cohere
    provider (sluice-mock, which has no documents service either, may refuse it in its own words)."""
    kw = dict(message=PROMPT, documents=[{"title": "Tall penguins", "snippet": "Emperors are tallest."}])
    with pytest.raises(cohere.errors.BadRequestError) as refused:
        co.chat(model=model("anthropic"), **kw)
    try:
        r = co.chat(model=model("cohere"), **kw)
    except ApiError as e:
        message = e.body.get("message") if isinstance(e.body, dict) else str(e.body)
        assert message != refused.value.body["message"], "Sluice refused it itself"
    else:
        assert r.text == ECHO


@pytest.mark.parametrize("provider", PROVIDERS)
def test_results_sent_with_the_question_and_no_history(co, provider):
    """Cohere's single-step examples send the question again with the results and no history:
    the calls are made from the results' own `call`s, so every format sees a call before its
    result."""
    results = [{"call": weather_call("Paris"), "outputs": [{"weather": "snow"}]}]
    r = co.chat(model=model(provider, "tool-model"), message=QUESTION, tools=TOOLS, tool_results=results)
    assert r.text.startswith("tool said: "), r.text
    assert json.loads(r.text[len("tool said: ") :]) == {"weather": "snow"}
    assert not r.tool_calls
    history = history_of(r.chat_history)
    assert [h["role"] for h in history] == ["USER", "TOOL", "CHATBOT"]
    assert history[1]["tool_results"][0]["outputs"] == [{"weather": "snow"}]


@pytest.mark.parametrize("provider", ["mock", "anthropic"])
def test_a_result_whose_call_has_other_parameters_answers_the_call_of_that_name(co, provider):
    """Matching prefers equal parameters (parallel calls to one tool pair up right); failing that,
    a result answers the first unanswered call of its tool, as Cohere, which checks nothing,
    would take it."""
    res = co.chat(model=model(provider, "tool-model"), message=QUESTION, tools=TOOLS)
    stray = [{"call": weather_call("Oslo"), "outputs": [{"weather": "snow"}]}]
    r = co.chat(
        model=model(provider, "tool-model"),
        message="",
        tools=TOOLS,
        chat_history=res.chat_history,
        tool_results=stray,
    )
    assert json.loads(r.text[len("tool said: ") :]) == {"weather": "snow"}


# ---- sluice-mock speaks v1 itself ---------------------------------------------------------------


def test_sluice_mock_answers_a_v1_chat(direct, sluice_mock):
    r = direct.chat(model=MOCK_MODEL, message=PROMPT, preamble=SYSTEM, chat_history=HISTORY)
    check_answer(r, ECHO)
    check_meta(r.meta, 3 + 3 + 2 + 2 + 3, 4)
    assert not r.tool_calls
    assert history_of(r.chat_history) == [
        *HISTORY,
        {"role": "USER", "message": PROMPT},
        {"role": "CHATBOT", "message": ECHO},
    ]
    prefixed = _client(f"{sluice_mock.base}/cohere")
    check_answer(prefixed.chat(model=MOCK_MODEL, message=PROMPT), ECHO)
    r = direct.chat(model=MOCK_MODEL, message=THIRTY, max_tokens=3)
    check_answer(r, "echo: w0 w1", finish="MAX_TOKENS")


def test_sluice_mock_streams_a_v1_chat(direct):
    whole = direct.chat(model=MOCK_MODEL, message=LONG_PROMPT)
    events = stream_events(direct, model=MOCK_MODEL, message=LONG_PROMPT)
    assert set(e.event_type for e in events[1:-1]) == {"text-generation"}
    assert text_of(events) == f"echo: {LONG_PROMPT}"
    assert events[-1].finish_reason == "COMPLETE"
    assert summary(events[-1].response) == summary(whole)


def test_sluice_mock_streams_line_separators(direct):
    events = stream_events(direct, model=MOCK_MODEL, message=SEPARATORS)
    assert text_of(events) == f"echo: {SEPARATORS}"
    assert events[-1].finish_reason == "COMPLETE"


def test_sluice_mock_runs_the_tool_loop(direct):
    res = direct.chat(model="command-r-tool", message=QUESTION, tools=TOOLS)
    check_answer(res, "Let me check.")
    check_calls(res, ["Paris"])
    output = {"weather": "sunny"}
    r = direct.chat(
        model="command-r-tool",
        message="",
        tools=TOOLS,
        chat_history=res.chat_history,
        tool_results=[{"call": c, "outputs": [output]} for c in res.tool_calls],
    )
    assert r.finish_reason == "COMPLETE"
    assert tool_said(r.text) == output
    assert [m["role"] for m in history_of(r.chat_history)] == ["USER", "CHATBOT", "TOOL", "CHATBOT"]
    par = direct.chat(model="command-r-parallel", message=QUESTION, tools=TOOLS)
    check_calls(par, ["Paris", "Rome"])


def test_sluice_mock_streams_tool_calls(direct):
    for scenario, cities in [("command-r-tool", ["Paris"]), ("command-r-parallel", ["Paris", "Rome"])]:
        whole = direct.chat(model=scenario, message=QUESTION, tools=TOOLS)
        events = stream_events(direct, model=scenario, message=QUESTION, tools=TOOLS)
        check_tool_stream(events, cities)
        assert plan_of(events) == whole.text
        assert summary(events[-1].response) == summary(whole)


def test_sluice_mock_errors_and_failures(direct):
    with pytest.raises(cohere.errors.TooManyRequestsError) as info:
        direct.chat(model="error-429", message=PROMPT)
    assert "429" in info.value.body["message"] and info.value.body["id"]
    with pytest.raises(cohere.errors.TooManyRequestsError):
        list(direct.chat_stream(model="error-429", message=PROMPT))
    with pytest.raises(cohere.errors.InternalServerError):
        direct.chat(model="error-500", message=PROMPT)
    events = stream_events(direct, model="midstream-model", message=FAILING)
    assert events[-1].finish_reason == "ERROR"
    assert extra(events[-1], "error")


# ---- the wire, where the SDK hides it -----------------------------------------------------------


def post_bytes(base: str, path: str, data: bytes, content_type: str = "application/json"):
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("POST", path, body=data, headers={"content-type": content_type, "authorization": "Bearer x"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def check_ndjson(body: bytes) -> list:
    """Each line one compact JSON object, each ended by a newline."""
    assert body.endswith(b"\n"), body[-200:]
    lines = body[:-1].split(b"\n")
    objs = []
    for line in lines:
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        assert line == json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode(), line
        assert isinstance(obj.get("event_type"), str) and isinstance(obj.get("is_finished"), bool), obj
        objs.append(obj)
    return objs


@pytest.mark.parametrize("provider", ["mock", "anthropic", "cohere"])
def test_the_stream_is_newline_delimited_json(sluice, raw, provider):
    r = raw(sluice.base, "POST", "/v1/chat", {"model": model(provider), "message": LONG_PROMPT, "stream": True})
    assert r.status == 200, r.body
    assert r.headers["content-type"].split(";")[0].strip() == "application/stream+json", r.headers
    objs = check_ndjson(r.body)
    assert objs[0]["event_type"] == "stream-start" and objs[-1]["event_type"] == "stream-end"
    assert [o["is_finished"] for o in objs] == [False] * (len(objs) - 1) + [True]
    assert "".join(o["text"] for o in objs if o["event_type"] == "text-generation") == f"echo: {LONG_PROMPT}"
    assert objs[-1]["response"]["text"] == f"echo: {LONG_PROMPT}"


def test_sluice_mock_streams_newline_delimited_json(sluice_mock, raw):
    r = raw(sluice_mock.base, "POST", "/v1/chat", {"model": MOCK_MODEL, "message": LONG_PROMPT, "stream": True})
    assert r.status == 200, r.body
    assert r.headers["content-type"].split(";")[0].strip() == "application/stream+json", r.headers
    objs = check_ndjson(r.body)
    assert objs[-1]["finish_reason"] == "COMPLETE"


@pytest.mark.parametrize("provider", ["mock", "cohere"])
def test_the_answer_json_has_the_v1_fields(sluice, raw, provider):
    r = raw(sluice.base, "POST", "/v1/chat", {"model": model(provider), "message": PROMPT})
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert {"text", "generation_id", "response_id", "finish_reason", "chat_history", "meta"} <= set(body), body
    assert "tool_calls" not in body, "tool_calls only when the model called tools"
    assert body["meta"] == {
        "api_version": {"version": "1"},
        "billed_units": {"input_tokens": 3, "output_tokens": 4},
        "tokens": {"input_tokens": 3, "output_tokens": 4},
    }
    assert body["chat_history"] == [{"role": "USER", "message": PROMPT}, {"role": "CHATBOT", "message": ECHO}]
    assert body["finish_reason"] == "COMPLETE" and body["text"] == ECHO


def test_tool_call_parameters_are_json_objects_on_the_wire(sluice, raw):
    r = raw(sluice.base, "POST", "/v1/chat", {"model": model("anthropic", "tool-model"), "message": QUESTION, "tools": TOOLS})
    assert r.status == 200, r.body
    body = r.json()
    assert body["tool_calls"] == [weather_call("Paris")]
    assert body["chat_history"][-1]["tool_calls"] == [weather_call("Paris")]
    assert body["finish_reason"] == "COMPLETE"


def test_only_post(sluice, raw):
    for path in ["/v1/chat", "/cohere/v1/chat"]:
        assert raw(sluice.base, "GET", path).status == 405, path


def test_a_body_that_is_not_json_is_a_400_in_cohere_shape(sluice):
    for path in ["/v1/chat", "/cohere/v1/chat"]:
        status, headers, body = post_bytes(sluice.base, path, b"{not json")
        assert status == 400, (path, body)
        err = json.loads(body)
        assert isinstance(err.get("id"), str) and err["id"], err
        assert isinstance(err.get("message"), str) and err["message"], err
