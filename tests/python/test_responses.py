"""OpenAI's Responses API (`client.responses.create` / `client.responses.stream`) with every
provider kind behind it.

An OpenAI provider gets the request as sent (sluice-mock answers `/v1/responses` itself); any
other provider gets a chat request in its own format: `instructions` and `system`/`developer`
items become the system prompt, function tools and `function_call`/`function_call_output` items
become that format's tools, calls and results, and the chat answer comes back as a `response`
(a stream: as Responses events, `response.created` first and `response.completed`,
`response.incomplete` or `response.failed` last, numbered by `sequence_number`).

sluice-mock answers from the same scenarios everywhere (src/mock/scenario.rs), so every provider
must give the same response: `echo: <last user text>`, usage input = the words of the system
prompt and every text part, output = the words of the answer; `tool-model` says `Let me check.`
and calls the first tool with `{"city":"Paris"}`; `parallel-model` calls it for Paris and Rome;
after a function result the answer is `tool said: <result>`; `length-model` (or a smaller
`max_output_tokens`) cuts the echo to that many words.

What a translated provider cannot do (stored state, built-in tools, background runs) is refused
with a 400 naming the parameter, as OpenAI names it.
"""

from __future__ import annotations

import json

import openai
import pydantic
import pytest
import refusals

from conftest import _openai_client

PROVIDERS = ["openai", "mock", "anthropic", "gemini", "bedrock", "cohere"]
# Every provider that sluice-mock answers over HTTP (the in-process `mock` is not one).
UPSTREAMS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]
PROMPT = "say something nice"
ECHO = f"echo: {PROMPT}"
LONG_PROMPT = "stream me a few words please"
SYSTEM = "be very brief"

# A 1x1 PNG.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_URL = f"data:image/png;base64,{PNG_B64}"

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}

# The events that end a stream.
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


@pytest.fixture(scope="module")
def client(sluice):
    c = _openai_client(f"{sluice.base}/v1")
    yield c
    c.close()


@pytest.fixture(scope="module")
def prefixed(sluice):
    """The same gateway through the /openai/v1 twin routes."""
    c = _openai_client(f"{sluice.base}/openai/v1")
    yield c
    c.close()


@pytest.fixture(scope="module")
def direct(sluice_mock):
    """The SDK pointed straight at sluice-mock: the mock must speak the real wire format."""
    c = _openai_client(f"{sluice_mock.base}/v1")
    yield c
    c.close()


def model(provider: str, scenario: str = "echo-model") -> str:
    # The in-process mock provider answers any model it is routed; `mock/` names it.
    return f"{provider}/{scenario}"


def words(text: str) -> int:
    return len(text.split())


# ---- shape checks -------------------------------------------------------------------------------


def check_usage(usage, input_tokens: int, output_tokens: int) -> None:
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (input_tokens, output_tokens), usage
    assert usage.total_tokens == input_tokens + output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    # A required field of the SDK's type (which builds answers without validating them).
    assert usage.input_tokens_details.cache_write_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def check_message(item, text: str, status: str = "completed") -> None:
    assert item.type == "message", item
    assert item.role == "assistant"
    assert item.status == status
    assert item.id.startswith("msg_"), item.id
    assert len(item.content) == 1, item.content
    part = item.content[0]
    assert (part.type, part.text, part.annotations) == ("output_text", text, [])


def check_model(r, provider: str, scenario: str = "echo-model") -> None:
    # The model asked for, or its name at the provider (as Sluice's chat answers give it).
    assert r.model in (model(provider, scenario), scenario), r.model


def calls_of(r) -> list:
    return [o for o in r.output if o.type == "function_call"]


def check_calls(r, cities: list[str]) -> None:
    calls = calls_of(r)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": city}) for city in cities
    ], calls
    for c in calls:
        assert c.id.startswith("fc_"), c.id
        assert c.call_id, "a call needs an id the client can answer"
        assert c.status == "completed"
    assert len({c.call_id for c in calls}) == len(calls), "each call has its own call_id"
    assert len({c.id for c in calls}) == len(calls), "each call item has its own id"


def summary(output) -> list:
    """An output list without its generated ids, to compare a stream with an answer."""
    out = []
    for o in output:
        if o.type == "message":
            out.append(("message", o.role, o.status, [(p.type, p.text) for p in o.content]))
        elif o.type == "function_call":
            out.append(("function_call", o.name, json.loads(o.arguments), o.status))
        elif o.type == "reasoning":
            out.append(("reasoning", thinking_of(o), o.encrypted_content))
        else:
            out.append((o.type,))
    return out


def thinking_of(item) -> list[str]:
    """A reasoning item's text, from its summary or its raw reasoning content."""
    return [p.text for p in item.summary] + [p.text for p in (item.content or [])]


def usage_of(r) -> tuple:
    u = r.usage
    return (
        u.input_tokens,
        u.output_tokens,
        u.total_tokens,
        u.input_tokens_details.cached_tokens,
        u.output_tokens_details.reasoning_tokens,
    )


# ---- streams ------------------------------------------------------------------------------------


def stream_events(client, **kw) -> list:
    """Every event of `responses.create(stream=True)`, checked for what holds in any stream:
    `response.created` first, `sequence_number` 0, 1, 2, ... without gaps, one response id, and
    exactly one terminal event (`response.completed`, `.incomplete` or `.failed`), last."""
    events = list(client.responses.create(stream=True, **kw))
    assert events, "an empty stream"
    types = [e.type for e in events]
    assert types[0] == "response.created", types
    assert [e.sequence_number for e in events] == list(range(len(events))), types
    ids = {e.response.id for e in events if e.type.startswith("response.") and hasattr(e, "response")}
    assert len(ids) == 1, ids
    assert next(iter(ids)).startswith("resp_")
    terminal = [t for t in types if t in TERMINAL]
    assert len(terminal) == 1 and types[-1] == terminal[0], types
    created = events[0].response
    assert created.status == "in_progress" and created.output == [], created
    if len(types) > 1 and types[1] != "error":
        assert types[1] == "response.in_progress", types
        assert events[1].response.status == "in_progress"
    return events


def text_of(events) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def check_item_order(events) -> None:
    """Each output item is announced once (indices 0, 1, ... in order) before any event of its own,
    and its events come before its `response.output_item.done`."""
    added, done = {}, {}
    for i, e in enumerate(events):
        if e.type == "response.output_item.added":
            assert e.output_index not in added, f"output_index {e.output_index} added twice"
            assert e.output_index == len(added), "output indices run 0, 1, ..."
            added[e.output_index] = (i, e.item.id)
        elif e.type == "response.output_item.done":
            assert e.output_index in added and e.output_index not in done
            assert e.item.id == added[e.output_index][1], "an item keeps its id"
            done[e.output_index] = i
        elif hasattr(e, "output_index") and e.type != "error":
            assert e.output_index in added, f"{e.type} before its item was added"
            assert e.output_index not in done, f"{e.type} after its item was done"
            assert e.item_id == added[e.output_index][1], e


def check_text_stream(events, text: str, terminal: str = "response.completed") -> None:
    """The full event order of a one-message answer (PROTOCOLS.md 2.8)."""
    types = [e.type for e in events]
    n = types.count("response.output_text.delta")
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * n,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        terminal,
    ], types
    check_item_order(events)
    added = events[2]
    assert added.output_index == 0
    assert (added.item.type, added.item.role, added.item.status, added.item.content) == (
        "message",
        "assistant",
        "in_progress",
        [],
    )
    assert added.item.id.startswith("msg_")
    part_added = events[3]
    assert (part_added.output_index, part_added.content_index) == (0, 0)
    assert (part_added.part.type, part_added.part.text) == ("output_text", "")
    for e in events[4:-1]:
        if hasattr(e, "content_index"):
            assert (e.output_index, e.content_index) == (0, 0), e
    assert text_of(events) == text
    assert events[-4].text == text  # output_text.done
    assert events[-3].part.text == text  # content_part.done
    item_status = "completed" if terminal == "response.completed" else "incomplete"
    check_message(events[-2].item, text, status=item_status)


# ---- one response through every provider --------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_response_through_every_provider(client, provider):
    r = client.responses.create(model=model(provider), input=PROMPT)
    assert r.object == "response"
    assert r.id.startswith("resp_"), r.id
    assert r.status == "completed"
    assert r.error is None and r.incomplete_details is None
    assert r.created_at > 1_600_000_000
    check_model(r, provider)
    assert r.output_text == ECHO
    assert len(r.output) == 1, r.output
    check_message(r.output[0], ECHO)
    check_usage(r.usage, 3, 4)
    assert r.instructions is None
    # Every answer is a response of its own.
    assert client.responses.create(model=model(provider), input=PROMPT).id != r.id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_instructions_are_the_system_prompt(client, provider):
    r = client.responses.create(model=model(provider), input=PROMPT, instructions=SYSTEM)
    assert r.output_text == ECHO
    assert r.instructions == SYSTEM
    # The mock counts the system prompt's words with the input's: it arrived.
    check_usage(r.usage, 3 + 3, 4)


@pytest.mark.parametrize("role", ["system", "developer"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_system_and_developer_items_are_the_system_prompt(client, provider, role):
    r = client.responses.create(
        model=model(provider),
        input=[{"role": role, "content": SYSTEM}, {"role": "user", "content": PROMPT}],
    )
    assert r.output_text == ECHO
    check_usage(r.usage, 3 + 3, 4)


HISTORIES = {
    "strings": [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second one please"},
    ],
    "parts": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "first question"}]},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "first answer", "annotations": []}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "second one"}, {"type": "input_text", "text": "please"}],
        },
    ],
}


@pytest.mark.parametrize("form", list(HISTORIES))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_input_as_a_list_of_messages(client, provider, form):
    r = client.responses.create(model=model(provider), input=HISTORIES[form], instructions=SYSTEM)
    # The last user message is answered (its text parts joined by a space); every turn arrived.
    assert r.output_text == "echo: second one please"
    check_usage(r.usage, 3 + 2 + 2 + 3, 4)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_common_settings_are_accepted(client, provider):
    """Settings every Responses client may send: taken (or, where a provider has no such knob,
    harmlessly left out), never a reason to fail."""
    r = client.responses.create(
        model=model(provider),
        input=PROMPT,
        temperature=0.5,
        top_p=0.9,
        store=False,
        metadata={"purpose": "test"},
        truncation="disabled",
        text={"format": {"type": "text"}},
    )
    assert (r.status, r.output_text) == ("completed", ECHO)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_json_schema_text_format_reaches_the_upstream(client, provider):
    fmt = {
        "type": "json_schema",
        "name": "weather",
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    r = client.responses.create(model=model(provider, "inspect-model"), input="hi", text={"format": fmt})
    # The inspect scenario reports the response format the upstream decoded.
    assert "; response_format: json_schema" in r.output_text, r.output_text


class Forecast(pydantic.BaseModel):
    city: str
    days: list[int]


FORECAST = Forecast(city="Paris", days=[1, 2])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parse_gives_the_structured_answer(client, provider):
    # `verbatim-model` answers with the user's text: a JSON document, as a model under the schema.
    kw = dict(model=model(provider, "verbatim-model"), input=FORECAST.model_dump_json(), text_format=Forecast)
    assert client.responses.parse(**kw).output_parsed == FORECAST
    with client.responses.stream(**kw) as s:
        for _ in s:
            pass
        assert s.get_final_response().output_parsed == FORECAST


@pytest.mark.parametrize("provider", ["openai", "mock"])
def test_a_refusal_is_a_refusal_part_answered_or_streamed(client, provider):
    # The mock provider's stream is Sluice's own encoding; the openai one passes through.
    refusals.check_responses(client, model(provider, "refusal-model"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_images_in_the_input(client, provider):
    one = [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": PNG_URL, "detail": "auto"},
            ],
        }
    ]
    r = client.responses.create(model=model(provider, "image-model"), input=one)
    assert r.output_text == "I see 1 image"
    two = [{"role": "user", "content": [*one[0]["content"], {"type": "input_image", "image_url": PNG_URL}]}]
    r = client.responses.create(model=model(provider, "image-model"), input=two)
    assert r.output_text == "I see 2 images"


# ---- function tools -----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_function_call(client, provider):
    r = client.responses.create(model=model(provider, "tool-model"), input="weather in Paris?", tools=[WEATHER])
    assert r.status == "completed"
    # The scenario's text before the call, then the call, in the order the model gave them.
    assert [o.type for o in r.output] == ["message", "function_call"], r.output
    check_message(r.output[0], "Let me check.")
    assert r.output_text == "Let me check."
    check_calls(r, ["Paris"])
    assert r.usage.input_tokens == 3
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


# A function's result as text, or as a list of content parts.
RESULTS = {"text": "sunny", "parts": [{"type": "input_text", "text": "sunny"}]}


@pytest.mark.parametrize("result", list(RESULTS))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_function_result_is_answered(client, provider, result):
    question = {"role": "user", "content": "weather in Paris?"}
    first = client.responses.create(model=model(provider, "tool-model"), input=[question], tools=[WEATHER])
    (call,) = calls_of(first)
    follow_up = [
        question,
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": RESULTS[result]},
    ]
    r = client.responses.create(model=model(provider, "tool-model"), input=follow_up, tools=[WEATHER])
    assert (r.status, r.output_text) == ("completed", "tool said: sunny")
    assert len(r.output) == 1
    check_message(r.output[0], "tool said: sunny")
    assert r.usage.output_tokens == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_previous_output_sent_back_as_it_came(client, provider):
    """The SDK's own loop: `input += response.output`, the items as the gateway gave them (ids,
    statuses, the assistant's text), then the result."""
    question = {"role": "user", "content": "weather in Paris?"}
    first = client.responses.create(model=model(provider, "tool-model"), input=[question], tools=[WEATHER])
    (call,) = calls_of(first)
    follow_up = [
        question,
        *first.output,
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    r = client.responses.create(model=model(provider, "tool-model"), input=follow_up, tools=[WEATHER])
    assert (r.status, r.output_text) == ("completed", "tool said: sunny")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parallel_function_calls(client, provider):
    question = {"role": "user", "content": "weather in Paris and Rome?"}
    r = client.responses.create(model=model(provider, "parallel-model"), input=[question], tools=[WEATHER])
    assert r.status == "completed"
    assert [o.type for o in r.output] == ["function_call", "function_call"], r.output
    assert r.output_text == ""
    check_calls(r, ["Paris", "Rome"])
    # Both results answered in one turn.
    follow_up = [question]
    for c, weather in zip(calls_of(r), ["sunny", "rainy"]):
        follow_up.append({"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": c.arguments})
    for c, weather in zip(calls_of(r), ["sunny", "rainy"]):
        follow_up.append({"type": "function_call_output", "call_id": c.call_id, "output": weather})
    r = client.responses.create(model=model(provider, "parallel-model"), input=follow_up, tools=[WEATHER])
    assert r.status == "completed"
    assert r.output_text in ("tool said: sunny", "tool said: rainy"), r.output_text


# ---- limits -------------------------------------------------------------------------------------

THIRTY = " ".join(f"w{i}" for i in range(30))
# The mock's words are its tokens: with the Responses API's least limit, 16, "echo:" and 15 words.
CUT_AT_16 = "echo: " + " ".join(f"w{i}" for i in range(15))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_max_output_tokens_makes_an_incomplete_response(client, provider):
    r = client.responses.create(model=model(provider), input=THIRTY, max_output_tokens=16)
    assert r.status == "incomplete"
    assert r.incomplete_details.reason == "max_output_tokens"
    assert r.output_text == CUT_AT_16
    check_message(r.output[0], CUT_AT_16, status="incomplete")
    check_usage(r.usage, 30, 16)
    # A limit the answer fits in changes nothing.
    r = client.responses.create(model=model(provider), input=PROMPT, max_output_tokens=100)
    assert (r.status, r.output_text, r.incomplete_details) == ("completed", ECHO, None)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_model_that_stops_at_its_length(client, provider):
    r = client.responses.create(model=model(provider, "length-model"), input=THIRTY)
    assert (r.status, r.incomplete_details.reason) == ("incomplete", "max_output_tokens")
    assert r.output_text == "echo: w0 w1"


# ---- streams ------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stream_spells_the_same_response(client, provider):
    whole = client.responses.create(model=model(provider), input=LONG_PROMPT, instructions=SYSTEM)
    events = stream_events(client, model=model(provider), input=LONG_PROMPT, instructions=SYSTEM)
    text = f"echo: {LONG_PROMPT}"
    check_text_stream(events, text)
    assert [e.type for e in events].count("response.output_text.delta") > 1, "the text came in pieces"
    done = events[-1].response
    assert done.status == "completed" and done.incomplete_details is None and done.error is None
    assert done.output_text == whole.output_text == text
    assert summary(done.output) == summary(whole.output)
    assert done.output[0].id == events[2].item.id, "the item keeps the id it was announced with"
    assert usage_of(done) == usage_of(whole)
    check_usage(done.usage, 3 + 6, 7)
    assert done.instructions == SYSTEM
    check_model(done, provider)
    assert done.id != whole.id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_stream_helper_gives_the_final_response(client, provider):
    whole = client.responses.create(model=model(provider), input=LONG_PROMPT)
    with client.responses.stream(model=model(provider), input=LONG_PROMPT) as s:
        types = [e.type for e in s]
        final = s.get_final_response()
    assert types[0] == "response.created" and types[-1] == "response.completed", types
    assert final.status == "completed"
    assert final.output_text == whole.output_text == f"echo: {LONG_PROMPT}"
    assert summary(final.output) == summary(whole.output)
    assert usage_of(final) == usage_of(whole)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_streamed_function_call(client, provider):
    kw = dict(model=model(provider, "tool-model"), input="weather in Paris?", tools=[WEATHER])
    whole = client.responses.create(**kw)
    events = stream_events(client, **kw)
    types = [e.type for e in events]
    assert types[-1] == "response.completed", types
    check_item_order(events)
    added = [e for e in events if e.type == "response.output_item.added" and e.item.type == "function_call"]
    assert len(added) == 1, types
    item = added[0].item
    assert item.id.startswith("fc_") and item.call_id and item.name == "get_weather"
    assert item.arguments == "", "arguments arrive in the delta events"
    assert item.status == "in_progress"
    index = added[0].output_index
    mine = [e for e in events if getattr(e, "output_index", None) == index]
    assert [e.type for e in mine][0] == "response.output_item.added"
    assert [e.type for e in mine][-2:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
    ], [e.type for e in mine]
    deltas = [e for e in mine if e.type == "response.function_call_arguments.delta"]
    assert deltas, "the arguments came as deltas"
    assert all(e.item_id == item.id for e in deltas)
    arguments = "".join(e.delta for e in deltas)
    assert json.loads(arguments) == {"city": "Paris"}
    assert mine[-2].arguments == arguments and mine[-2].item_id == item.id
    final_item = mine[-1].item
    assert (final_item.type, final_item.id, final_item.call_id, final_item.name) == (
        "function_call",
        item.id,
        item.call_id,
        "get_weather",
    )
    assert final_item.arguments == arguments and final_item.status == "completed"
    done = events[-1].response
    assert summary(done.output) == summary(whole.output)
    assert [c.call_id for c in calls_of(done)] == [item.call_id]
    assert text_of(events) == "Let me check."
    assert usage_of(done) == usage_of(whole)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_parallel_calls(client, provider):
    kw = dict(model=model(provider, "parallel-model"), input="weather in Paris and Rome?", tools=[WEATHER])
    events = stream_events(client, **kw)
    assert events[-1].type == "response.completed", [e.type for e in events]
    check_item_order(events)
    done_args = {
        e.output_index: e.arguments for e in events if e.type == "response.function_call_arguments.done"
    }
    assert [json.loads(done_args[i]) for i in sorted(done_args)] == [{"city": "Paris"}, {"city": "Rome"}]
    for i, arguments in done_args.items():
        pieces = [
            e.delta
            for e in events
            if e.type == "response.function_call_arguments.delta" and e.output_index == i
        ]
        assert "".join(pieces) == arguments
    check_calls(events[-1].response, ["Paris", "Rome"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_stream_helper_with_tools(client, provider):
    for scenario, cities in [("tool-model", ["Paris"]), ("parallel-model", ["Paris", "Rome"])]:
        with client.responses.stream(
            model=model(provider, scenario), input="weather?", tools=[WEATHER]
        ) as s:
            for _ in s:
                pass
            final = s.get_final_response()
        assert final.status == "completed"
        check_calls(final, cities)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stream_cut_by_its_length_ends_incomplete(client, provider):
    cases = [
        (dict(model=model(provider), max_output_tokens=16), CUT_AT_16, 16),
        (dict(model=model(provider, "length-model")), "echo: w0 w1", 3),
    ]
    for kw, text, tokens in cases:
        whole = client.responses.create(input=THIRTY, **kw)
        events = stream_events(client, input=THIRTY, **kw)
        check_text_stream(events, text, terminal="response.incomplete")
        last = events[-1].response
        assert last.status == "incomplete"
        assert last.incomplete_details.reason == "max_output_tokens"
        assert last.output_text == text
        assert summary(last.output) == summary(whole.output)
        assert usage_of(last) == usage_of(whole)
        assert last.usage.output_tokens == tokens


# ---- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_upstream_errors_before_the_stream_are_the_sdks_own(client, provider):
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=model(provider, "error-429"), input=PROMPT)
    with pytest.raises(openai.RateLimitError):
        list(client.responses.create(model=model(provider, "error-429"), input=PROMPT, stream=True))
    with pytest.raises(openai.RateLimitError):
        with client.responses.stream(model=model(provider, "error-429"), input=PROMPT) as s:
            s.get_final_response()


FAILING = "one two three four five six"


# `midstream-model`: the upstream's own in-stream error; `cutoff-model`: the upstream's body just
# stops; `unfinished-model`: it ends cleanly without `response.completed` (the in-process mock
# has no upstream body, so it is left out of those two). A translated stream's cut is reported as
# its own failure; a passed-through one (openai) with an `error` event (see the test after this).
FAILURES = [(p, "midstream-model") for p in PROVIDERS] + [
    (p, scenario) for p in UPSTREAMS if p != "openai" for scenario in ["cutoff-model", "unfinished-model"]
]


@pytest.mark.parametrize("provider, scenario", FAILURES)
def test_a_stream_that_fails_half_way_ends_failed(client, provider, scenario):
    """Once the 200 has gone out, a failure is the stream's own: text first, then an `error`
    event and `response.failed` last; never `response.completed`, never an HTTP error. A
    truncated upstream too, passed through or translated: the client must learn it failed."""
    events = stream_events(client, model=model(provider, scenario), input=FAILING)
    types = [e.type for e in events]
    assert types[-2:] == ["error", "response.failed"], types
    assert "response.completed" not in types and "response.incomplete" not in types
    text = text_of(events)
    assert text and f"echo: {FAILING}".startswith(text), text
    assert text != f"echo: {FAILING}", "the stream stopped half way"
    assert types.index("error") > max(i for i, t in enumerate(types) if t == "response.output_text.delta")
    error = events[-2]
    assert isinstance(error.message, str) and error.message, error
    failed = events[-1].response
    assert failed.status == "failed", failed
    assert failed.error is not None and failed.error.code and failed.error.message, failed.error
    assert failed.id == events[0].response.id
    # The helper sees no completed response.
    with client.responses.stream(model=model(provider, scenario), input=FAILING) as s:
        with pytest.raises(RuntimeError):
            s.get_final_response()


@pytest.mark.parametrize("scenario", ["cutoff-model", "unfinished-model"])
def test_a_passed_through_stream_cut_short_ends_with_an_error_event(client, scenario):
    """Same format, the bytes are relayed as they come; where the upstream's stopped between two
    events without its end (its connection closed, or its body ended), the client gets the
    Responses `error` event after the text it had, numbered after the relayed events, and a clean
    end; nothing pretends the response completed."""
    events = list(client.responses.create(model=model("openai", scenario), input=FAILING, stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "error", types
    assert not {"response.completed", "response.incomplete", "response.failed"} & set(types), types
    error = events[-1]
    assert "upstream stream" in error.message and error.code == "server_error", error
    assert error.sequence_number == events[-2].sequence_number + 1, (error, events[-2])
    got = text_of(events)
    assert got and f"echo: {FAILING}".startswith(got) and got != f"echo: {FAILING}", got
    with client.responses.stream(model=model("openai", scenario), input=FAILING) as s:
        with pytest.raises(RuntimeError):
            s.get_final_response()


# ---- what a translated provider cannot do -------------------------------------------------------

REFUSED = [
    ({"previous_response_id": "resp_x"}, ["previous_response_id"]),
    ({"conversation": "conv_1"}, ["conversation"]),
    ({"background": True}, ["background"]),
    ({"tools": [{"type": "web_search"}]}, ["tools[0].type"]),
    # The item itself, or one of its fields.
    ({"input": [{"type": "item_reference", "id": "msg_x"}]}, ["input[0]"]),
]


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("kw, params", REFUSED, ids=[p[0] for _, p in REFUSED])
def test_what_a_chat_model_cannot_do_is_a_400_naming_the_parameter(client, kw, params, stream):
    kw = {"input": PROMPT, **kw}
    with pytest.raises(openai.BadRequestError) as e:
        r = client.responses.create(model=model("anthropic"), stream=stream, **kw)
        if stream:
            list(r)
    param = e.value.param or ""
    assert param in params or (params == ["input[0]"] and param.startswith("input[0].")), (param, e.value)


def test_an_openai_provider_gets_stored_state_parameters_as_sent(client):
    """What only OpenAI can do is OpenAI's to answer: Sluice does not refuse it for an OpenAI
    provider (sluice-mock, which stores nothing either, may refuse it in its own words)."""
    kw = dict(input=PROMPT, previous_response_id="resp_x")
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=model("anthropic"), **kw)
    try:
        r = client.responses.create(model=model("openai"), **kw)
    except openai.APIStatusError as e:
        assert e.message != refused.value.message, "Sluice refused it itself"
    else:
        assert r.output_text == ECHO


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "cohere"])
def test_log_probabilities_a_provider_cannot_give_are_refused(client, provider):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(
            model=model(provider),
            input=PROMPT,
            include=["message.output_text.logprobs"],
            top_logprobs=2,
        )
    assert e.value.param in ("logprobs", "top_logprobs", "include"), e.value


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "cohere"])
def test_top_logprobs_zero_asks_for_none(client, provider):
    # Every answer repeats `top_logprobs: 0`; a client sending its settings back asks for no log
    # probabilities, so a provider without them still answers.
    r = client.responses.create(model=model(provider), input=PROMPT, top_logprobs=0)
    assert r.output_text == ECHO


# ---- log probabilities --------------------------------------------------------------------------


def check_logprobs(text: str, logprobs, top: int = 2) -> None:
    assert logprobs, "no logprobs"
    assert "".join(t.token for t in logprobs) == text
    for t in logprobs:
        assert t.logprob <= 0
        assert bytes(t.bytes) == t.token.encode()
        assert len(t.top_logprobs) == top
        assert any(a.token == t.token and a.logprob == t.logprob for a in t.top_logprobs), t


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_log_probabilities(client, provider):
    kw = dict(
        model=model(provider),
        input="hello there world",
        include=["message.output_text.logprobs"],
        top_logprobs=2,
    )
    r = client.responses.create(**kw)
    part = r.output[0].content[0]
    assert part.text == "echo: hello there world"
    check_logprobs(part.text, part.logprobs)
    # Streamed: each delta carries its own tokens, and the final part all of them.
    events = stream_events(client, **kw)
    assert events[-1].type == "response.completed"
    streamed = []
    for e in events:
        if e.type == "response.output_text.delta":
            assert "".join(t.token for t in e.logprobs) == e.delta, e
            streamed += [t.token for t in e.logprobs]
    assert streamed == [t.token for t in part.logprobs]
    check_logprobs(part.text, events[-1].response.output[0].content[0].logprobs)


# ---- reasoning ----------------------------------------------------------------------------------


THINKING = "The user wants an echo."
# Formats with a redacted-thinking block of their own; Gemini and Cohere have none to carry.
REDACTED = ["mock", "anthropic", "bedrock"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_after_thinking(client, provider):
    """The `reasoning` scenario answers after a thinking block (text and signature) and a
    redacted-thinking block: they come as `reasoning` items before the message (the thinking as
    its text, the signature or redacted data as `encrypted_content`, to be sent back), and the
    message is the same echo; the stream gives the same items."""
    kw = dict(model=model(provider, "reasoning-model"), input="think then answer")
    r = client.responses.create(**kw)
    assert (r.status, r.output_text) == ("completed", "echo: think then answer")
    assert r.output[-1].type == "message"
    check_message(r.output[-1], "echo: think then answer")
    assert all(o.type == "reasoning" for o in r.output[:-1]), r.output
    if provider != "openai":  # Chat Completions has no thinking to pass on
        assert r.output[0].type == "reasoning", r.output
        assert thinking_of(r.output[0]) == [THINKING]
        if provider != "cohere":  # Cohere's thinking has no signature
            assert r.output[0].encrypted_content, "the signature is kept to be sent back"
    if provider in REDACTED:
        assert len(r.output) == 3, r.output
        assert r.output[1].encrypted_content and thinking_of(r.output[1]) == []
    for o in r.output[:-1]:
        assert o.id.startswith("rs_"), o.id
    events = stream_events(client, **kw)
    assert events[-1].type == "response.completed"
    check_item_order(events)
    done = events[-1].response
    assert done.output_text == r.output_text
    assert summary(done.output) == summary(r.output)
    for e in events:
        if e.type == "response.output_item.done" and e.item.type == "reasoning":
            assert summary([e.item]) == summary([done.output[e.output_index]])
    with client.responses.stream(**kw) as s:
        for _ in s:
            pass
        assert s.get_final_response().output_text == r.output_text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reasoning_items_sent_back_are_taken(client, provider):
    """`input += response.output` after thinking: the reasoning items go back with the rest."""
    first = client.responses.create(model=model(provider, "reasoning-model"), input="think then answer")
    follow_up = [
        {"role": "user", "content": "think then answer"},
        *first.output,
        {"role": "user", "content": "and once more"},
    ]
    r = client.responses.create(model=model(provider, "reasoning-model"), input=follow_up)
    assert (r.status, r.output_text) == ("completed", "echo: and once more")
    # The history's text arrived: 3 + 4 + 3 words (the mock counts text parts, not thinking).
    assert r.usage.input_tokens == 10


# ---- both routes --------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_openai_prefixed_route(prefixed, provider):
    r = prefixed.responses.create(model=model(provider), input=PROMPT)
    assert (r.object, r.status, r.output_text) == ("response", "completed", ECHO)
    check_usage(r.usage, 3, 4)
    events = stream_events(prefixed, model=model(provider), input=LONG_PROMPT)
    check_text_stream(events, f"echo: {LONG_PROMPT}")
    with pytest.raises(openai.BadRequestError):
        prefixed.responses.create(model=model("anthropic"), input=PROMPT, background=True)


# ---- sluice-mock speaks the wire format itself --------------------------------------------------

MOCK_MODEL = "gpt-4o-mini"


def test_sluice_mock_answers_a_response(direct):
    r = direct.responses.create(model=MOCK_MODEL, input=PROMPT, instructions=SYSTEM)
    assert (r.object, r.status, r.output_text) == ("response", "completed", ECHO)
    assert r.id.startswith("resp_")
    assert r.model == MOCK_MODEL
    assert r.instructions == SYSTEM
    check_message(r.output[0], ECHO)
    check_usage(r.usage, 6, 4)


def test_sluice_mock_streams_a_response(direct):
    whole = direct.responses.create(model=MOCK_MODEL, input=LONG_PROMPT)
    events = stream_events(direct, model=MOCK_MODEL, input=LONG_PROMPT)
    check_text_stream(events, f"echo: {LONG_PROMPT}")
    done = events[-1].response
    assert summary(done.output) == summary(whole.output)
    assert usage_of(done) == usage_of(whole)
    with direct.responses.stream(model=MOCK_MODEL, input=LONG_PROMPT) as s:
        for _ in s:
            pass
        final = s.get_final_response()
    assert final.output_text == f"echo: {LONG_PROMPT}"
    assert usage_of(final) == usage_of(whole)


def test_sluice_mock_calls_functions(direct):
    question = {"role": "user", "content": "weather in Paris?"}
    r = direct.responses.create(model="tool-model", input=[question], tools=[WEATHER])
    check_calls(r, ["Paris"])
    (call,) = calls_of(r)
    follow_up = [
        question,
        *r.output,
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    assert direct.responses.create(model="tool-model", input=follow_up, tools=[WEATHER]).output_text == (
        "tool said: sunny"
    )
    events = stream_events(direct, model="parallel-model", input=[question], tools=[WEATHER])
    check_item_order(events)
    check_calls(events[-1].response, ["Paris", "Rome"])
    with direct.responses.stream(model="tool-model", input=[question], tools=[WEATHER]) as s:
        for _ in s:
            pass
        check_calls(s.get_final_response(), ["Paris"])


def test_sluice_mock_errors_and_failures(direct):
    with pytest.raises(openai.RateLimitError):
        direct.responses.create(model="error-429", input=PROMPT)
    # An error before the stream is the unstreamed answer's, code included.
    for status in (404, 503):
        errors = []
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as e:
                direct.responses.create(model=f"error-{status}", input=PROMPT, stream=stream)
            errors.append((e.value.status_code, e.value.code))
        assert errors[0] == errors[1], errors
    r = direct.responses.create(model="length-model", input=THIRTY)
    assert (r.status, r.incomplete_details.reason) == ("incomplete", "max_output_tokens")
    check_message(r.output[0], "echo: w0 w1", status="incomplete")
    events = stream_events(direct, model="midstream-model", input=FAILING)
    assert [e.type for e in events][-2:] == ["error", "response.failed"]
    assert events[-1].response.status == "failed"


# ---- input token counts (`client.responses.input_tokens.count`) ---------------------------------

COUNTING = ["openai", "mock", "anthropic", "gemini", "bedrock"]


@pytest.mark.parametrize("provider", COUNTING)
def test_the_input_count_is_what_the_response_reports(client, provider):
    """`/v1/responses/input_tokens` answers with the count the provider's own counting endpoint
    gives (an OpenAI provider's for the request as sent); sluice-mock counts what the same
    request's answer reports as its input, so the two must agree."""
    kw = dict(model=model(provider), instructions=SYSTEM, input=PROMPT, tools=[WEATHER])
    counted = client.responses.input_tokens.count(**kw)
    assert counted.object == "response.input_tokens"
    answered = client.responses.create(**kw)
    assert counted.input_tokens == answered.usage.input_tokens > words(PROMPT)
    # A longer conversation counts more.
    more = client.responses.input_tokens.count(
        model=model(provider), instructions=SYSTEM, input=[{"role": "user", "content": PROMPT + " and more"}]
    )
    assert more.input_tokens == counted.input_tokens + 2


def test_a_count_cohere_cannot_make_is_refused(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.input_tokens.count(model=model("cohere"), input=PROMPT)
    assert e.value.param == "model" and "no token-counting endpoint" in e.value.message


def test_sluice_mock_counts_input_tokens(direct):
    counted = direct.responses.input_tokens.count(model="echo-model", instructions=SYSTEM, input=PROMPT)
    answered = direct.responses.create(model="echo-model", instructions=SYSTEM, input=PROMPT)
    assert (counted.object, counted.input_tokens) == ("response.input_tokens", answered.usage.input_tokens)
