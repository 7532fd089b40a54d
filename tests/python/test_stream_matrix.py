"""Streams: every official SDK consuming Sluice streams with every provider kind behind it (5 x 5,
plus the in-process `mock` provider), through each SDK's own stream API.

The providers are those of test_sdk_matrix.py (all answered by sluice-mock in their own format),
so a cell is either a same-format passthrough or a stream translated event by event. The
non-stream answer of the same scenario is the truth: the concatenated text, the tool calls (name
and parsed arguments), the usage and the finish reason of every stream must equal it.

Stream scenarios on top of the non-stream ones (src/mock/stream.rs): `midstream-model` fails with
an in-stream error after half of the events; `cutoff-model` stops without the format's end and
closes the connection, `unfinished-model` ends its body cleanly without the format's end (the
gateway must report both, never pass them off as a normal finish); `stall-model` stops there and
sends nothing for 10 s (the gateway's `body_idle_timeout_ms` must end it first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from test_sdk_matrix import ADAPTERS, PROVIDERS, SDKS, WEATHER_SCHEMA, Turn, user

STREAM_PROVIDERS = PROVIDERS + ["mock"]


@dataclass
class Streamed:
    text: str = ""
    calls: list[tuple[str, str, dict]] = field(default_factory=list)
    finish: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    text_pieces: int = 0  # how many events carried text: proves the answer was streamed
    error: str | None = None  # an in-stream error the SDK raised or reported


# ---- one stream reader per SDK -----------------------------------------------------------------


def openai_stream(sdk, model, turns, **kw):
    out = Streamed()
    calls: dict[int, dict] = {}
    roles = []
    chunks = []
    # HTTP errors raise here; only errors inside the stream are caught below.
    stream = sdk.c.chat.completions.create(
        **sdk.params(model, turns, **kw), stream=True, stream_options={"include_usage": True}
    )
    try:
        for chunk in stream:
            chunks.append(chunk)
            if chunk.usage is not None:
                # The usage chunk is the last one and has no choices (PROTOCOLS 2.4).
                assert chunk.choices == []
                out.input_tokens, out.output_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                continue
            for ch in chunk.choices:
                d = ch.delta
                roles.append(d.role)
                if d.content:
                    out.text += d.content
                    out.text_pieces += 1
                for tc in d.tool_calls or []:
                    assert tc.index is not None, "index on every tool-call entry"
                    entry = calls.setdefault(tc.index, {"id": None, "name": None, "args": ""})
                    if tc.id is not None:
                        assert entry["id"] is None, "id only in the first delta of a call"
                        entry["id"] = tc.id
                    if tc.function and tc.function.name is not None:
                        assert entry["name"] is None, "name only in the first delta of a call"
                        entry["name"] = tc.function.name
                    if tc.function and tc.function.arguments:
                        entry["args"] += tc.function.arguments
                if ch.finish_reason:
                    out.finish = ch.finish_reason
    except sdk.m.APIError as e:
        out.error = str(e)
    if roles:
        assert roles[0] == "assistant", "role in the first delta"
        assert all(r is None for r in roles[1:]), f"role only in the first delta: {roles}"
    if out.error is None:
        assert chunks[-1].usage is not None, "usage chunk last when include_usage was asked"
    out.calls = [(c["id"], c["name"], json.loads(c["args"])) for _, c in sorted(calls.items())]
    out.finish = {"stop": "stop", "length": "length", "tool_calls": "tool"}.get(out.finish, out.finish)
    return out


def anthropic_stream(sdk, model, turns, **kw):
    out = Streamed()
    starts = []
    manager = sdk.c.messages.stream(**sdk.params(model, turns, **kw))
    stream = manager.__enter__()  # HTTP errors raise here
    try:
        for ev in stream:
            if ev.type == "content_block_start":
                starts.append(ev.index)
            elif ev.type == "content_block_delta" and ev.delta.type == "text_delta":
                out.text_pieces += 1
        msg = stream.get_final_message()
    except sdk.m.APIStatusError as e:
        out.error = str(e)
        return out
    finally:
        manager.__exit__(None, None, None)
    assert starts == list(range(len(starts))), f"block indices contiguous from 0: {starts}"
    out.text = "".join(b.text for b in msg.content if b.type == "text")
    out.calls = [(b.id, b.name, b.input) for b in msg.content if b.type == "tool_use"]
    out.finish = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool"}.get(msg.stop_reason, msg.stop_reason)
    out.input_tokens, out.output_tokens = msg.usage.input_tokens, msg.usage.output_tokens
    return out


def genai_stream(sdk, model, turns, **kw):
    out = Streamed()
    last = None
    try:
        for r in sdk.c.models.generate_content_stream(**sdk.params(model, turns, **kw)):
            last = r
            for cand in r.candidates or []:
                for p in (cand.content.parts if cand.content else None) or []:
                    if p.text and not p.thought:  # a thought is no part of the answer's text
                        out.text += p.text
                        out.text_pieces += 1
                    if p.function_call:
                        fc = p.function_call
                        out.calls.append((fc.id or "", fc.name, dict(fc.args)))
                if cand.finish_reason:
                    fr = cand.finish_reason.value
                    out.finish = {"STOP": "stop", "MAX_TOKENS": "length"}.get(fr, fr)
            if r.usage_metadata:
                out.input_tokens = r.usage_metadata.prompt_token_count or 0
                out.output_tokens = r.usage_metadata.candidates_token_count or 0
    except sdk.errors.ServerError as e:  # in-stream errors are 5xx here; an HTTP 429 raises
        out.error = str(e)
        return out
    assert last is not None and last.candidates[0].finish_reason, "finishReason on the last chunk"
    assert last.usage_metadata is not None, "usageMetadata on the last chunk"
    if out.calls:
        out.finish = "tool"
    return out


def boto3_stream(sdk, model, turns, **kw):
    import botocore.exceptions

    out = Streamed()
    tools: dict[int, dict] = {}
    order = []
    try:
        r = sdk.c.converse_stream(**sdk.params(model, turns, **kw))
        for ev in r["stream"]:
            assert len(ev) == 1, f"a union with exactly one member: {ev}"
            (kind, body), = ev.items()
            order.append(kind)
            if kind == "contentBlockStart":
                tu = body["start"]["toolUse"]
                tools[body["contentBlockIndex"]] = {"id": tu["toolUseId"], "name": tu["name"], "input": ""}
            elif kind == "contentBlockDelta":
                d = body["delta"]
                if "text" in d:
                    out.text += d["text"]
                    out.text_pieces += 1
                elif "toolUse" in d:
                    tools[body["contentBlockIndex"]]["input"] += d["toolUse"]["input"]
            elif kind == "messageStop":
                out.finish = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool"}.get(
                    body["stopReason"], body["stopReason"]
                )
            elif kind == "metadata":
                out.input_tokens = body["usage"]["inputTokens"]
                out.output_tokens = body["usage"]["outputTokens"]
    except botocore.exceptions.EventStreamError as e:
        out.error = f"{e.response['Error']['Code']}: {e}"
        return out
    assert order[0] == "messageStart" and order[-2:] == ["messageStop", "metadata"], order
    out.calls = [(t["id"], t["name"], json.loads(t["input"])) for _, t in sorted(tools.items())]
    return out


def cohere_stream(sdk, model, turns, **kw):
    out = Streamed()
    plan = ""
    calls = []
    types = []
    for ev in sdk.c.chat_stream(**sdk.params(model, turns, **kw)):
        types.append(ev.type)
        if ev.type == "content-delta":
            if ev.delta.message.content.text is None:  # a thinking delta
                assert ev.delta.message.content.thinking, ev
                continue
            out.text += ev.delta.message.content.text
            out.text_pieces += 1
        elif ev.type == "tool-plan-delta":
            plan += ev.delta.message.tool_plan
            out.text_pieces += 1
        elif ev.type == "tool-call-start":
            tc = ev.delta.message.tool_calls
            calls.append({"id": tc.id, "name": tc.function.name, "args": tc.function.arguments or "", "index": ev.index})
        elif ev.type == "tool-call-delta":
            # By the event's index, as a client must: parallel calls may stream at once.
            call = next(c for c in calls if c["index"] == ev.index)
            call["args"] += ev.delta.message.tool_calls.function.arguments or ""
        elif ev.type == "message-end":
            fr = ev.delta.finish_reason
            if fr == "ERROR":
                out.error = str(getattr(ev.delta, "error", None) or "ERROR")
            out.finish = {"COMPLETE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool", "STOP_SEQUENCE": "stop_sequence"}.get(
                fr, fr
            )
            if ev.delta.usage and ev.delta.usage.tokens:
                out.input_tokens = int(ev.delta.usage.tokens.input_tokens or 0)
                out.output_tokens = int(ev.delta.usage.tokens.output_tokens or 0)
    assert types[0] == "message-start", types
    if out.error is None:
        assert types[-1] == "message-end", types
    # Cohere carries the text before tool calls as `tool_plan`.
    out.text = out.text or plan
    out.calls = [(c["id"], c["name"], json.loads(c["args"])) for c in calls]
    return out


READERS = {
    "openai": openai_stream,
    "anthropic": anthropic_stream,
    "genai": genai_stream,
    "boto3": boto3_stream,
    "cohere": cohere_stream,
}


@pytest.fixture(scope="module")
def sdks(sluice):
    return {name: cls(sluice.base) for name, cls in ADAPTERS.items()}


def stream(sdks, sdk_name, model, turns, **kw):
    return READERS[sdk_name](sdks[sdk_name], model, turns, **kw)


matrix = pytest.mark.parametrize("provider", STREAM_PROVIDERS)
per_sdk = pytest.mark.parametrize("sdk_name", SDKS)


def non_stream_truth(sdks, sdk_name, model, turns, **kw):
    return sdks[sdk_name].chat(model, turns, **kw)


def assert_same_answer(streamed: Streamed, truth):
    assert streamed.error is None, streamed.error
    assert streamed.text == truth.text
    assert [(n, a) for _, n, a in streamed.calls] == [(n, a) for _, n, a in truth.calls]
    assert all(i for i, _, _ in streamed.calls) or not streamed.calls or streamed.calls[0][0] == ""
    assert streamed.finish == truth.finish
    assert (streamed.input_tokens, streamed.output_tokens) == (truth.input_tokens, truth.output_tokens)


# ---- the matrix --------------------------------------------------------------------------------


@per_sdk
@matrix
def test_stream_text_equals_non_stream(sdks, sdk_name, provider):
    model = f"{provider}/echo-model"
    turns = [user("stream me a few words please")]
    s = stream(sdks, sdk_name, model, turns)
    assert s.text == "echo: stream me a few words please"
    assert s.text_pieces > 1, "the text arrived in several events"
    assert_same_answer(s, non_stream_truth(sdks, sdk_name, model, turns))


@per_sdk
@matrix
def test_stream_after_reasoning_equals_non_stream(sdks, sdk_name, provider):
    """An answer that opens with thinking and redacted thinking (the `reasoning` scenario): the
    answer's text, streamed in every format from every provider, equals the non-stream one."""
    model = f"{provider}/reasoning-model"
    turns = [user("think then answer")]
    s = stream(sdks, sdk_name, model, turns)
    assert s.text == "echo: think then answer"
    assert_same_answer(s, non_stream_truth(sdks, sdk_name, model, turns))


@per_sdk
@matrix
def test_stream_tool_call_equals_non_stream(sdks, sdk_name, provider):
    model = f"{provider}/tool-model"
    turns = [user("weather in Paris?")]
    s = stream(sdks, sdk_name, model, turns, tools=True)
    assert [(n, a) for _, n, a in s.calls] == [("get_weather", {"city": "Paris"})]
    assert s.calls[0][0], "a streamed tool call has an id"
    assert_same_answer(s, non_stream_truth(sdks, sdk_name, model, turns, tools=True))


# A call without arguments: the upstream streams it as Anthropic does (`input: {}`, then an empty
# `partial_json`); every client must still read `{}`, as unstreamed (json.loads of "" fails).
@per_sdk
@matrix
def test_stream_call_without_arguments(sdks, sdk_name, provider):
    model = f"{provider}/noargs-model"
    turns = [user("what time is it?")]
    s = stream(sdks, sdk_name, model, turns, tools=True)
    assert [(n, a) for _, n, a in s.calls] == [("get_weather", {})]
    assert_same_answer(s, non_stream_truth(sdks, sdk_name, model, turns, tools=True))


# `parallel-interleave-model`: the upstream streams both calls at once, both started, then their
# argument fragments in turn (the mock's `interleave` scenario). Client formats whose blocks are
# sequential (Anthropic, Bedrock) or whose calls go out whole (Gemini) must still lose nothing.
@per_sdk
@matrix
@pytest.mark.parametrize("scenario", ["parallel-model", "parallel-interleave-model"])
def test_stream_parallel_tool_calls(sdks, sdk_name, provider, scenario):
    model = f"{provider}/{scenario}"
    turns = [user("weather in Paris and Rome?")]
    s = stream(sdks, sdk_name, model, turns, tools=True)
    assert [(n, a) for _, n, a in s.calls] == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    assert_same_answer(s, non_stream_truth(sdks, sdk_name, model, turns, tools=True))


@per_sdk
@matrix
def test_stream_length_and_system(sdks, sdk_name, provider):
    model = f"{provider}/length-model"
    turns = [user("one two three four five")]
    s = stream(sdks, sdk_name, model, turns, system="be brief")
    assert s.finish == "length"
    assert_same_answer(s, non_stream_truth(sdks, sdk_name, model, turns, system="be brief"))


@per_sdk
@matrix
def test_stream_tool_round_trip(sdks, sdk_name, provider):
    model = f"{provider}/tool-model"
    first = stream(sdks, sdk_name, model, [user("weather?")], tools=True)
    call_id, name, args = first.calls[0]
    turns = [
        user("weather?"),
        Turn("assistant", first.text, calls=[(call_id, name, args)]),
        Turn("tool", "sunny", tool_id=call_id, tool_name=name),
    ]
    s = stream(sdks, sdk_name, model, turns, tools=True)
    assert s.text == "tool said: sunny"
    assert s.finish == "stop"


@per_sdk
@matrix
def test_mid_stream_error_reaches_the_client(sdks, sdk_name, provider):
    s = stream(sdks, sdk_name, f"{provider}/midstream-model", [user("one two three four five six")])
    assert s.error, "the SDK saw the in-stream error"
    assert "echo: one two three four five six".startswith(s.text), s.text


@per_sdk
@matrix
def test_truncated_upstream_is_never_a_normal_finish(sdks, sdk_name, provider):
    try:
        s = stream(sdks, sdk_name, f"{provider}/cutoff-model", [user("one two three four five six")])
    except Exception as e:  # noqa: BLE001 - a broken body is one acceptable way to report it
        assert not isinstance(e, AssertionError), e
        return
    assert s.error, f"a truncated stream must be reported, got {s}"


@per_sdk
@pytest.mark.parametrize("provider", ["gemini", "bedrock"])
def test_a_call_the_model_could_not_form_never_passes_for_a_whole_answer(sdks, sdk_name, provider):
    # `malformed-model` answers nothing, ended by Gemini's `MALFORMED_FUNCTION_CALL` (Bedrock's
    # `malformed_tool_use`). OpenAI and Anthropic have no such finish: their clients get an
    # error, answered or streamed, where they once read a normal, empty `stop` / `end_turn`.
    model, turns = f"{provider}/malformed-model", [user("weather in Paris?")]
    s = stream(sdks, sdk_name, model, turns)
    if sdk_name in ("openai", "anthropic"):
        assert s.error and "could not form its answer" in s.error, s
        with pytest.raises(sdks[sdk_name].error_class(500), match="MALFORMED_FUNCTION_CALL|malformed_tool_use"):
            sdks[sdk_name].chat(model, turns)
        return
    # The others name it, by their own value (Cohere's is `ERROR`, which its reader reports).
    own = {"genai": "MALFORMED_FUNCTION_CALL", "boto3": "malformed_tool_use", "cohere": "ERROR"}[sdk_name]
    assert sdks[sdk_name].chat(model, turns).finish == own
    assert (s.finish, s.error) == (own, None) or (sdk_name, s.error) == ("cohere", "ERROR"), s


@per_sdk
@pytest.mark.parametrize("provider", PROVIDERS)
def test_unfinished_upstream_is_the_clients_in_stream_error(sdks, sdk_name, provider):
    # The upstream's body ends cleanly between two events, without the format's end marker:
    # translated or relayed as it is (same format), the client gets its format's in-stream error
    # after the text so far, never a normal finish and never a broken body.
    s = stream(sdks, sdk_name, f"{provider}/unfinished-model", [user("one two three four five six")])
    assert s.error and "ended before it was complete" in s.error, s
    assert s.text_pieces >= 1, "the text before the cut reached the client"
    assert "echo: one two three four five six".startswith(s.text), s.text
    assert s.finish in ("", "ERROR"), s


@per_sdk
@matrix
def test_errors_before_the_stream_are_http_errors(sdks, sdk_name, provider):
    sdk = sdks[sdk_name]
    with pytest.raises(sdk.error_class(429)):
        s = stream(sdks, sdk_name, f"{provider}/error-429", [user("hi")])
        # Cohere reports in-stream errors as events; an HTTP error must still raise.
        assert s is None


# ---- the real SDKs straight at sluice-mock: its streams are the providers' real wire formats ----


@pytest.fixture(scope="module")
def direct(sluice_mock):
    return {name: cls(sluice_mock.base) for name, cls in ADAPTERS.items()}


@per_sdk
@pytest.mark.parametrize("model", ["echo-model", "tool-model", "parallel-model", "reasoning-model"])
def test_mock_streams_read_by_the_real_sdks(direct, sdk_name, model):
    turns = [user("weather in Paris and Rome?")]
    s = READERS[sdk_name](direct[sdk_name], model, turns, tools=True)
    assert s.text_pieces >= 1 or (model == "parallel-model" and len(s.calls) == 2)
    assert_same_answer(s, direct[sdk_name].chat(model, turns, tools=True))


@per_sdk
def test_mock_mid_stream_error_read_by_the_real_sdks(direct, sdk_name):
    s = READERS[sdk_name](direct[sdk_name], "midstream-model", [user("one two three four five six")])
    assert s.error
    if sdk_name == "boto3":
        assert s.error.startswith("internalServerException"), s.error


# ---- an upstream that hangs mid-stream ---------------------------------------------------------
# `stall-model` sends half of its events, then nothing for 10 s. A gateway whose
# `body_idle_timeout_ms` is 300 gives up on it then: every SDK gets its in-stream error at once,
# after the text that came, rather than hanging on the upstream (or reading its close as an end).

STALL_CONFIG = """
[upstream]
body_idle_timeout_ms = 300

[routing]
default_provider = "openai"
""" + "".join(
    f'\n[[providers]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "{{mock_base}}"\nkeys = ["k"]\n' for kind in PROVIDERS
)


@pytest.fixture(scope="module")
def impatient_sdks(sluice_mock, tmp_path_factory):
    from conftest import _teardown, start_gateway

    workdir = tmp_path_factory.mktemp("sluice-impatient")
    gw = start_gateway(workdir, "sluice-impatient", STALL_CONFIG.replace("{mock_base}", sluice_mock.base))
    yield {name: cls(gw.base) for name, cls in ADAPTERS.items()}
    _teardown(gw)


@per_sdk
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_upstream_silent_past_the_body_idle_timeout_is_an_in_stream_error(impatient_sdks, sdk_name, provider):
    import time

    started = time.monotonic()
    s = stream(impatient_sdks, sdk_name, f"{provider}/stall-model", [user("one two three four five six")])
    took = time.monotonic() - started
    assert s.error, f"the SDK saw the in-stream error: {s}"
    assert "echo: one two three four five six".startswith(s.text), s.text
    # The gateway's 300 ms, not the upstream's close 10 s later.
    assert took < 5, took
    assert "upstream sent nothing for 300 ms in the middle of its answer" in s.error, s.error


# ---- SDK helpers beyond plain iteration ---------------------------------------------------------


@matrix
def test_openai_stream_helper_final_completion(sdks, provider):
    c = sdks["openai"].c
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "w",
            "parameters": {**WEATHER_SCHEMA, "additionalProperties": False},
            "strict": True,
        },
    }
    deltas = []
    with c.chat.completions.stream(
        model=f"{provider}/tool-model",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[tool],
        stream_options={"include_usage": True},
    ) as s:
        for ev in s:
            if ev.type == "content.delta":
                deltas.append(ev.delta)
        final = s.get_final_completion()
    msg = final.choices[0].message
    assert "".join(deltas) == msg.content == "Let me check."
    assert final.choices[0].finish_reason == "tool_calls"
    (call,) = msg.tool_calls
    assert call.function.name == "get_weather"
    assert call.function.parsed_arguments == {"city": "Paris"}
    assert final.usage.prompt_tokens == 1 and final.usage.completion_tokens > 0


@matrix
def test_anthropic_text_stream_and_final_message(sdks, provider):
    c = sdks["anthropic"].c
    with c.messages.stream(
        model=f"{provider}/echo-model", max_tokens=64, messages=[{"role": "user", "content": "hello stream"}]
    ) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert "".join(pieces) == "echo: hello stream" and len(pieces) > 1
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (2, 3)


@matrix
def test_boto3_invoke_model_with_response_stream(sdks, provider):
    c = sdks["boto3"].c
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "tools": [{"name": "get_weather", "description": "w", "input_schema": WEATHER_SCHEMA}],
        "messages": [{"role": "user", "content": "weather?"}],
    }
    r = c.invoke_model_with_response_stream(
        modelId=f"{provider}/anthropic.claude-tool-model", body=json.dumps(body)
    )
    events = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    types = [e["type"] for e in events]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"], types
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta")
    args = "".join(
        e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert text == "Let me check."
    assert json.loads(args) == {"city": "Paris"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == 1 and metrics["outputTokenCount"] > 0


def test_boto3_invoke_stream_mid_stream_error(sdks):
    import botocore.exceptions

    c = sdks["boto3"].c
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [{"role": "user", "content": "a b c d"}]}
    r = c.invoke_model_with_response_stream(modelId="anthropic/anthropic.claude-midstream", body=json.dumps(body))
    with pytest.raises(botocore.exceptions.EventStreamError) as e:
        for _ in r["body"]:
            pass
    assert e.value.response["Error"]["Code"] == "internalServerException"


# ---- wire-level rules a raw client can see --------------------------------------------------------


def raw_stream(base, path, body):
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json", "authorization": "Bearer k"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type"), resp.read()
    finally:
        conn.close()


@matrix
def test_wire_gemini_stream_is_data_lines_with_crlf_only(sluice, provider):
    status, ctype, body = raw_stream(
        sluice.base,
        f"/genai/v1beta/models/{provider}/tool-model:streamGenerateContent?alt=sse",
        {
            "contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
            "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": WEATHER_SCHEMA}]}],
        },
    )
    assert status == 200 and ctype.startswith("text/event-stream")
    events = body.split(b"\r\n\r\n")
    assert events[-1] == b"", "every event ends with a CRLF blank line"
    chunks = []
    for ev in events[:-1]:
        assert ev.startswith(b"data: ") and b"\n" not in ev and b"\r" not in ev, ev
        chunks.append(json.loads(ev[6:]))
    parts = [p for c in chunks for p in c["candidates"][0].get("content", {}).get("parts", [])]
    calls = [(p["functionCall"]["name"], p["functionCall"]["args"]) for p in parts if "functionCall" in p]
    assert calls == [("get_weather", {"city": "Paris"})], "complete args in one part"
    assert "".join(p.get("text", "") for p in parts) == "Let me check."
    assert "finishReason" in chunks[-1]["candidates"][0] and "usageMetadata" in chunks[-1]
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    # Every chunk has a `content`, the last too, as Google's do (see the chat session test).
    assert all(c["candidates"][0]["content"]["role"] == "model" for c in chunks)


@pytest.mark.parametrize("provider", ["mock", *PROVIDERS])
def test_gemini_chat_session_keeps_streamed_turns_and_answers_their_calls(sdks, provider):
    """google-genai's chat session keeps a streamed turn in its history only if the stream's last
    chunk has a `content`; its automatic function calling sends the function's result only then.
    Before, the last chunk carried only the finish: the second message went without the first
    turn, and a tool call was asked again and again (the function ran ten times) without an
    answer."""
    from google.genai import types

    c = sdks["genai"].c
    chat = c.chats.create(model=f"{provider}/echo-model")

    def turns() -> list[tuple[str, str]]:
        # The session keeps a streamed turn as one `model` entry per chunk: joined per turn.
        out: list[tuple[str, str]] = []
        for m in chat.get_history(curated=True):
            text = "".join(p.text or "" for p in m.parts or [])
            if out and out[-1][0] == m.role == "model":
                out[-1] = ("model", out[-1][1] + text)
            else:
                out.append((m.role, text))
        return out

    first = "".join(ch.text or "" for ch in chat.send_message_stream("first words"))
    assert first == "echo: first words"
    assert turns() == [("user", "first words"), ("model", "echo: first words")]
    assert "".join(ch.text or "" for ch in chat.send_message_stream("second")) == "echo: second"
    assert turns() == [
        ("user", "first words"),
        ("model", "echo: first words"),
        ("user", "second"),
        ("model", "echo: second"),
    ]

    ran = []

    def get_weather(city: str) -> dict:
        """The weather in a city."""
        ran.append(city)
        return {"sky": "sunny"}

    chat = c.chats.create(model=f"{provider}/tool-model", config=types.GenerateContentConfig(tools=[get_weather]))
    text = "".join(ch.text or "" for ch in chat.send_message_stream("weather?"))
    assert ran == ["Paris"]
    assert "sunny" in text, text


@matrix
def test_wire_anthropic_events_named_and_typed(sluice, provider):
    status, ctype, body = raw_stream(
        sluice.base,
        "/anthropic/v1/messages",
        {"model": f"{provider}/echo-model", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi there"}]},
    )
    assert status == 200 and ctype.startswith("text/event-stream")
    events = [e for e in body.decode().split("\n\n") if e]
    names = []
    for ev in events:
        lines = ev.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), ev
        name = lines[0][7:]
        assert json.loads(lines[1][6:])["type"] == name
        names.append(name)
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"], names
    assert "[DONE]" not in body.decode()


@matrix
def test_wire_openai_done_last_and_cohere_content_type(sluice, provider):
    status, ctype, body = raw_stream(
        sluice.base,
        "/v1/chat/completions",
        {"model": f"{provider}/echo-model", "stream": True, "messages": [{"role": "user", "content": "hi there"}]},
    )
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")
    assert b'"usage"' not in body.replace(b'"usage":null', b""), "no usage chunk unless include_usage was asked"
    status, ctype, body = raw_stream(
        sluice.base,
        "/cohere/v2/chat",
        {"model": f"{provider}/echo-model", "stream": True, "messages": [{"role": "user", "content": "hi there"}]},
    )
    assert status == 200 and ctype.startswith("text/event-stream")
    assert body.decode().split("\n\n")[0].startswith("event: message-start")


@pytest.mark.parametrize("provider", STREAM_PROVIDERS)
def test_cohere_stream_keeps_line_separators(sdks, provider):
    # The v2 SDK splits SSE lines at \r and \n only (its own decoder, not httpx's
    # `iter_lines`), so U+2028, U+2029 and U+0085 left raw in the JSON cost no event; v1's
    # JSON lines escape them (test_cohere_v1_chat.py).
    text = "a\u2028b\u2029c\u0085d"
    s = stream(sdks, "cohere", f"{provider}/echo-model", [user(text)])
    assert (s.text, s.finish, s.error) == (f"echo: {text}", "stop", None)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock", "mock"])
def test_cohere_forced_tool_call_streams_a_tool_plan(sdks, provider):
    # With tool_choice REQUIRED a tool call is certain, so the text before it is the plan, as
    # Cohere itself streams it (`tool-plan-delta`), not content.
    co = sdks["cohere"].c
    params = sdks["cohere"].params(f"{provider}/tool-model", [user("weather?")], tools=True)
    events = list(co.chat_stream(**params, tool_choice="REQUIRED"))
    types = [e.type for e in events]
    assert "tool-plan-delta" in types and "content-delta" not in types, types
    plan = "".join(e.delta.message.tool_plan for e in events if e.type == "tool-plan-delta")
    assert plan == "Let me check."
    assert types.index("tool-plan-delta") < types.index("tool-call-start")
    assert events[-1].delta.finish_reason == "TOOL_CALL"


# ---- many streams at once through one worker ---------------------------------------------------
# Every cell of the matrix streaming at the same time, twice over, through a gateway with one
# worker and an upstream that paces its events: the streams interleave event by event on that
# worker and share its upstream pool (connections go back and are reused between streams). Each
# stream must get exactly its own answer: its own text, whole and in order, its own usage and
# finish. A mix-up between streams, a lost event or a connection reused while still busy would
# show as a wrong or short text.

CONCURRENT_CONFIG = """
[upstream]
pool_spare = 1

[routing]
default_provider = "mock"

[[providers]]
name = "mock"
kind = "mock"
mock_chunks = 6
mock_chunk_delay_ms = 3
""" + "".join(
    f'\n[[providers]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "{{mock_base}}"\nkeys = ["k"]\n' for kind in PROVIDERS
)


@pytest.fixture(scope="module")
def paced_gateway(tmp_path_factory):
    from conftest import _teardown, start_gateway, start_mock

    workdir = tmp_path_factory.mktemp("sluice-concurrent")
    mock = start_mock(workdir, "sluice-mock-paced", "--chunks", "6", "--chunk-delay-ms", "3")
    gw = start_gateway(workdir, "sluice-concurrent", CONCURRENT_CONFIG.replace("{mock_base}", mock.base))
    yield gw
    _teardown(gw)
    _teardown(mock)


def test_concurrent_streams_each_get_their_own_answer(paced_gateway):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    import time

    spans = []

    def one(job):
        i, sdk_name, provider = job
        if not hasattr(local, "sdks"):
            local.sdks = {name: cls(paced_gateway.base) for name, cls in ADAPTERS.items()}
        words = " ".join(f"s{i}w{k}" for k in range(i % 4 + 2))
        turns = [user(f"{sdk_name} {provider} {words}")]
        start = time.monotonic()
        s = stream(local.sdks, sdk_name, f"{provider}/echo-model", turns)
        spans.append((start, time.monotonic()))
        return job, s, turns

    jobs = [(i, s, p) for i, (s, p) in enumerate((s, p) for _ in range(2) for s in SDKS for p in STREAM_PROVIDERS)]
    with ThreadPoolExecutor(max_workers=len(jobs) // 2) as pool:
        results = list(pool.map(one, jobs))

    # The streams did overlap: at some instant many were open at once.
    most_open = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most_open >= 8, f"at most {most_open} streams were open at once"

    truth_sdks = {name: cls(paced_gateway.base) for name, cls in ADAPTERS.items()}
    assert len(results) == len(jobs) == 60
    for (i, sdk_name, provider), s, turns in results:
        expected = f"echo: {turns[0].text}"
        assert s.error is None, (sdk_name, provider, s.error)
        assert s.text == expected, (sdk_name, provider, s.text)
        assert s.text_pieces > 1, (sdk_name, provider)
        assert_same_answer(s, non_stream_truth(truth_sdks, sdk_name, f"{provider}/echo-model", turns))


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "mock"])
def test_anthropic_message_start_carries_the_input_count_when_the_upstream_knows_it(sdks, provider):
    """Anthropic's `message_start` opens with the input usage (PROTOCOLS 3.4). Upstreams that count
    the prompt from their first event on (Anthropic's own `message_start`, every Gemini chunk)
    give it there; the others report usage only at the end, and `message_delta` carries it."""
    c = sdks["anthropic"].c
    with c.messages.stream(
        model=f"{provider}/echo-model", max_tokens=64, messages=[{"role": "user", "content": "hello stream"}]
    ) as s:
        events = list(s)
        final = s.get_final_message()
    assert events[0].type == "message_start"
    assert final.usage.input_tokens == 2
    assert events[0].message.usage.input_tokens == final.usage.input_tokens


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "openai"])
def test_gemini_chunks_carry_the_prompt_count_once_known(sdks, provider):
    """Google puts `usageMetadata` with the prompt's count on every chunk, the candidates' count
    only on the last (PROTOCOLS 4.4). Behind an upstream that knows the prompt's count from the
    start, every chunk has it; behind one that reports usage only at the end (OpenAI), only the
    last chunk carries usage."""
    c = sdks["genai"].c
    chunks = list(c.models.generate_content_stream(model=f"{provider}/echo-model", contents="hello stream"))
    assert len(chunks) > 2
    last = chunks[-1].usage_metadata
    assert (last.prompt_token_count, last.candidates_token_count) == (2, 3)
    for ch in chunks[:-1]:
        if provider == "openai":
            assert ch.usage_metadata is None
        else:
            u = ch.usage_metadata
            assert (u.prompt_token_count, u.candidates_token_count, u.total_token_count) == (2, None, 2)


def test_redacted_thinking_streams_to_an_anthropic_client_from_bedrock(sdks):
    """Claude's `redacted_thinking` block must go back with the turn's history; streams used to
    drop it while the non-stream answer kept it. Bedrock (reasoningContent.redactedContent) ->
    an Anthropic client, streamed and not, give the same blocks."""
    c = sdks["anthropic"].c
    kw = dict(model="bedrock/reasoning-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    with c.messages.stream(**kw) as s:
        streamed = s.get_final_message()
    whole = c.messages.create(**kw)
    for msg in (streamed, whole):
        assert [b.type for b in msg.content] == ["thinking", "redacted_thinking", "text"], msg.content
        # Claude's own tokens (the mock's), unmarked: Bedrock and Anthropic are one family.
        assert msg.content[0].signature == "EgtzbHVpY2UtbW9jay1jbGF1ZGU="
        assert msg.content[1].data == "Eg1zbHVpY2UtbW9jay1yZWRhY3RlZA=="
        assert msg.content[2].text == "echo: hi"


def test_redacted_thinking_streams_to_a_bedrock_client_from_anthropic(sdks):
    import base64

    REDACTED = base64.b64decode("Eg1zbHVpY2UtbW9jay1yZWRhY3RlZA==")  # the mock Claude's own
    c = sdks["boto3"].c
    kw = dict(modelId="anthropic/reasoning-model", messages=[{"role": "user", "content": [{"text": "hi"}]}])
    whole = c.converse(**kw)["output"]["message"]["content"]
    assert whole[1] == {"reasoningContent": {"redactedContent": REDACTED}}, whole
    blocks: dict[int, dict] = {}
    for ev in c.converse_stream(**kw)["stream"]:
        if "contentBlockDelta" in ev:
            d = ev["contentBlockDelta"]
            blocks.setdefault(d["contentBlockIndex"], []).append(d["delta"])
    assert blocks[1] == [{"reasoningContent": {"redactedContent": REDACTED}}], blocks
    assert "".join(d["text"] for d in blocks[2]) == "echo: hi"
