"""Stream fidelity: what each official SDK builds from a translated STREAM equals what it gets
from the NON-STREAM answer of the same scenario, on the same upstream, field by field.

test_stream_matrix.py compares the text, the tool calls and the token counts. Here every client
(OpenAI Chat, OpenAI Responses, Anthropic, google-genai, boto3 Converse, Cohere v2) times every
provider kind (sluice-mock in each format, and the in-process `mock`) builds the whole answer
both ways with the SDK's own accumulation where it has one (openai `ChatCompletionStreamState`,
the Responses terminal event's `response`, anthropic `get_final_message()`, google-genai chunks
merged, boto3 and cohere events folded), and the two must be equal in everything but ids and
timestamps: finish / stop reasons and `stop_sequence`, `status` / `incomplete_details`, the
whole usage object (cache read and write, reasoning tokens), thinking text and redacted
thinking, the model name, tool-call ids, names and arguments (every JSON type, nested, escaped,
split across chunks), unicode text. The same holds for Bedrock InvokeModel with a Claude body
(the native events folded as the Anthropic SDK folds them) and for legacy completions.

Differences the formats force, asserted as documented (README "Streaming"):
- Cohere: text before a tool call streams as `content` (a gateway cannot know a call follows
  until it does), where the non-stream answer has it as `tool_plan`;
- OpenAI Chat: the accumulated stream message has `content: ""` where the answer has `null` when
  there is no text (OpenAI's own first delta carries `""`), so both are read as "no text";
- an upstream answer that ends in error (Cohere's `ERROR` for the refusal scenario) is an HTTP
  error unstreamed and an in-stream error streamed: both must be errors.
"""

from __future__ import annotations

import json

import pytest

from test_sdk_matrix import ADAPTERS, user

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "cohere", "mock"]
CLIENTS = ["openai", "responses", "anthropic", "genai", "boto3", "cohere"]
# The mock's `richargs` arguments as it writes them (src/mock/scenario.rs `RICH_ARGUMENTS`): keys
# out of order, escapes, an integer beyond 64 bits, `1e5` and `1.0`. Every client gets this value
# (compared as `json.dumps` gives it: key order and int / float kept) and, where its SDK shows the
# text (OpenAI Chat and Responses, Cohere), this text.
RICH_ARGS_TEXT = (
    r'{"city":"Z\u00fcrich \"Altstadt\"\n😀","days":3,"ratio":0.5,"units":{"temp":"C","wind":null},'
    r'"tags":["a","日本"],"ok":true,"empty":{},"list":[],"id":123456789012345678901234,"scale":1e5,'
    r'"step":1.0,"path":"a\/b"}'
)
RICH_ARGS = json.loads(RICH_ARGS_TEXT)

# name -> (model, user text, keyword arguments of the SDK adapter's params)
SCENARIOS = {
    "unicode": ("echo-model", 'héllo "q" \\ 😀 日本 wörld\ttab', {}),
    "length": ("length-model", "one two three four five", {}),
    # 16: the least limit the Responses API takes; the echo is longer.
    "max_tokens": ("echo-model", " ".join(f"w{i}" for i in range(24)), {"max_tokens": 16}),
    "stop_sequence": ("echo-model", "alpha beta END gamma", {"stop": ["END"]}),
    "rich_tool_cached": ("richargs-tool-cached-model", "weather?", {"tools": True}),
    "noargs": ("noargs-model", "weather?", {"tools": True}),
    "parallel": ("parallel-model", "weather?", {"tools": True}),
    # Both calls streamed at once, their fragments in turn (the mock's `interleave`).
    "interleaved": ("parallel-interleave-model", "weather?", {"tools": True}),
    "reasoning_cached": ("reasoning-cached-model", "think then answer", {}),
    "refusal": ("refusal-model", "do something bad", {}),
}


class Failed(Exception):
    """The answer was an error (HTTP or in-stream): compared as such."""


# ---- one view per client: the whole answer as a plain dict, ids and timestamps left out ----------


def openai_view(sdk, model, turns, stream, **kw):
    from openai.lib.streaming.chat import ChatCompletionStreamState

    p = sdk.params(model, turns, **kw)
    try:
        if stream:
            state = ChatCompletionStreamState()
            for chunk in sdk.c.chat.completions.create(**p, stream=True, stream_options={"include_usage": True}):
                state.handle_chunk(chunk)
            r = state.current_completion_snapshot
        else:
            r = sdk.c.chat.completions.create(**p)
    except sdk.m.APIError as e:
        raise Failed(str(e)) from e
    (ch,) = r.choices
    m = ch.message
    return dict(
        model=r.model,
        object=r.object if not stream else "chat.completion",
        finish=ch.finish_reason,
        role=m.role,
        content=m.content or None,  # see the module doc
        refusal=m.refusal,
        calls=[
            (c.id, c.type, c.function.name, json.loads(c.function.arguments), c.function.arguments)
            for c in m.tool_calls or []
        ],
        usage=r.usage.model_dump(exclude_none=True),
    )


def responses_view(sdk, model, turns, stream, **kw):
    p = sdk.params(model, turns, **kw)
    body = dict(model=model, input=[{"role": m["role"], "content": m["content"]} for m in p["messages"]])
    if "tools" in p:
        body["tools"] = [{"type": "function", **t["function"]} for t in p["tools"]]
    if "max_tokens" in p:
        body["max_output_tokens"] = p["max_tokens"]
    try:
        if stream:
            # The SDK's `.stream()` helper takes only `response.completed` as the end; an
            # incomplete answer ends with `response.incomplete`, whose `response` is the whole one.
            # The items and deltas streamed before it must build that same response.
            r, items, deltas = None, {}, {}
            for ev in sdk.c.responses.create(**body, stream=True):
                if ev.type in ("response.completed", "response.incomplete", "response.failed"):
                    r = ev.response
                elif ev.type == "response.output_item.done":
                    items[ev.output_index] = ev.item
                elif ev.type.endswith(".delta"):
                    deltas[ev.output_index] = deltas.get(ev.output_index, "") + ev.delta
            if r.status != "failed":
                assert [items[i] for i in sorted(items)] == r.output
                for i, item in enumerate(r.output):
                    whole = {
                        "message": lambda: "".join(getattr(c, "text", None) or c.refusal for c in item.content),
                        "function_call": lambda: item.arguments,
                        "reasoning": lambda: "".join(t.text for t in item.summary or item.content or []),
                    }[item.type]()
                    assert deltas.get(i, "") == whole, (item, deltas.get(i))
        else:
            r = sdk.c.responses.create(**body)
    except sdk.m.APIError as e:
        raise Failed(str(e)) from e
    if r.status == "failed":
        raise Failed(str(r.error))
    d = r.model_dump(exclude_none=True, exclude={"id", "created_at", "completed_at"})
    for item in d["output"]:
        item.pop("id", None)
        if "arguments" in item:
            item["arguments_text"] = item["arguments"]
            item["arguments"] = json.loads(item["arguments"])
    return d


def anthropic_view(sdk, model, turns, stream, **kw):
    p = sdk.params(model, turns, **kw)
    try:
        if stream:
            with sdk.c.messages.stream(**p) as s:
                r = s.get_final_message()
        else:
            r = sdk.c.messages.create(**p)
    except sdk.m.APIError as e:
        raise Failed(str(e)) from e
    return r.model_dump(exclude_none=True, exclude={"id"})


def genai_view(sdk, model, turns, stream, **kw):
    p = sdk.params(model, turns, **kw)
    try:
        if stream:
            chunks = list(sdk.c.models.generate_content_stream(**p))
        else:
            chunks = [sdk.c.models.generate_content(**p)]
    except sdk.errors.APIError as e:
        raise Failed(str(e)) from e
    parts = []
    for ch in chunks:
        for pt in (ch.candidates[0].content and ch.candidates[0].content.parts) or []:
            pt = pt.model_dump(exclude_none=True)
            last = parts[-1] if parts else None
            # Text pieces of one kind (thought or answer) make one part, as unstreamed.
            if last and "text" in pt and "text" in last and pt.get("thought") == last.get("thought"):
                last["text"] += pt.pop("text")
                last.update(pt)
            else:
                parts.append(pt)
    last = chunks[-1]
    cand = last.candidates[0]
    return dict(
        parts=parts,
        finish=cand.finish_reason,
        finish_message=cand.finish_message,
        usage=last.usage_metadata.model_dump(exclude_none=True),
        model=last.model_version,
    )


def boto3_view(sdk, model, turns, stream, **kw):
    import botocore.exceptions

    p = sdk.params(model, turns, **kw)
    try:
        if not stream:
            r = sdk.c.converse(**p)
            out = dict(stop=r["stopReason"], usage=r["usage"], content=r["output"]["message"]["content"])
            if "additionalModelResponseFields" in r:  # Claude's `stop_sequence`
                out["fields"] = r["additionalModelResponseFields"]
            return out
        blocks: dict[int, dict] = {}
        out = {}
        for ev in sdk.c.converse_stream(**p)["stream"]:
            ((kind, body),) = ev.items()
            if kind == "contentBlockStart":
                blocks[body["contentBlockIndex"]] = {"toolUse": {**body["start"]["toolUse"], "input": ""}}
            elif kind == "contentBlockDelta":
                d, block = body["delta"], blocks.setdefault(body["contentBlockIndex"], {})
                if "text" in d:
                    block["text"] = block.get("text", "") + d["text"]
                elif "toolUse" in d:
                    block["toolUse"]["input"] += d["toolUse"]["input"]
                elif "reasoningContent" in d:
                    rc, rd = block.setdefault("reasoningContent", {}), d["reasoningContent"]
                    if "text" in rd:
                        rt = rc.setdefault("reasoningText", {})
                        rt["text"] = rt.get("text", "") + rd["text"]
                    if "signature" in rd:
                        rc.setdefault("reasoningText", {})["signature"] = rd["signature"]
                    if "redactedContent" in rd:
                        rc["redactedContent"] = rd["redactedContent"]
            elif kind == "messageStop":
                out["stop"] = body["stopReason"]
                if "additionalModelResponseFields" in body:
                    out["fields"] = body["additionalModelResponseFields"]
            elif kind == "metadata":
                out["usage"] = body["usage"]
    except (botocore.exceptions.ClientError, botocore.exceptions.EventStreamError) as e:
        raise Failed(str(e)) from e
    for block in blocks.values():
        if "toolUse" in block:
            # An empty input streams as no delta or "": the unstreamed input is then `{}`.
            block["toolUse"]["input"] = json.loads(block["toolUse"]["input"] or "{}")
    out["content"] = [b for _, b in sorted(blocks.items())]
    return out


def cohere_view(sdk, model, turns, stream, **kw):
    p = sdk.params(model, turns, **kw)
    if not stream:
        try:
            r = sdk.c.chat(**p)
        except sdk.m.core.ApiError as e:
            raise Failed(str(e)) from e
        d = r.dict(exclude_none=True, exclude={"id"})
        for c in d["message"].get("tool_calls", []):
            c["function"]["arguments_text"] = c["function"]["arguments"]
            c["function"]["arguments"] = json.loads(c["function"]["arguments"])
        return d
    msg: dict = {"role": "assistant"}
    out: dict = {"message": msg}
    content, calls, plan = [], [], ""
    for ev in sdk.c.chat_stream(**p):
        if ev.type == "content-start":
            content.append(ev.delta.message.content.dict(exclude_none=True))
        elif ev.type == "content-delta":
            c = ev.delta.message.content
            for key in ("text", "thinking"):
                if getattr(c, key, None) is not None:
                    content[-1][key] = content[-1].get(key, "") + getattr(c, key)
        elif ev.type == "tool-plan-delta":
            plan += ev.delta.message.tool_plan
        elif ev.type == "tool-call-start":
            calls.append(ev.delta.message.tool_calls.dict(exclude_none=True))
        elif ev.type == "tool-call-delta":
            f = calls[-1]["function"]
            f["arguments"] = f.get("arguments", "") + (ev.delta.message.tool_calls.function.arguments or "")
        elif ev.type == "message-end":
            out["finish_reason"] = ev.delta.finish_reason
            out["usage"] = ev.delta.usage.dict(exclude_none=True)
    if calls and not plan and [c.get("type") for c in content] == ["text"]:
        # See the module doc: the text before a call is the plan, streamed as content.
        plan = content.pop()["text"]
    if content:
        msg["content"] = content
    if plan:
        msg["tool_plan"] = plan
    for c in calls:
        c["function"]["arguments_text"] = c["function"]["arguments"]
        c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    if calls:
        msg["tool_calls"] = calls
    return out


VIEWS = {
    "openai": openai_view,
    "responses": responses_view,
    "anthropic": anthropic_view,
    "genai": genai_view,
    "boto3": boto3_view,
    "cohere": cohere_view,
}


@pytest.fixture(scope="module")
def sdks(sluice):
    out = {name: cls(sluice.base) for name, cls in ADAPTERS.items()}
    out["responses"] = out["openai"]
    return out


def both_ways(sdks, client, provider, scenario):
    model, text, kw = SCENARIOS[scenario]
    model, turns = f"{provider}/{model}", [user(text)]
    answers = []
    for stream in (False, True):
        try:
            answers.append(VIEWS[client](sdks[client], model, turns, stream, **kw))
        except Failed as e:
            answers.append(Failed(str(e)))
    return answers


def cache_read_of(client, answer):
    """The cache-read count in the client's own usage field."""
    return {
        "openai": lambda a: a["usage"]["prompt_tokens_details"]["cached_tokens"],
        "responses": lambda a: a["usage"]["input_tokens_details"]["cached_tokens"],
        "anthropic": lambda a: a["usage"]["cache_read_input_tokens"],
        "genai": lambda a: a["usage"].get("cached_content_token_count"),
        "boto3": lambda a: a["usage"].get("cacheReadInputTokens"),
        "cohere": lambda a: a["usage"].get("cached_tokens"),
    }[client](answer)


def tool_args_of(client, answer):
    if client == "openai":
        return [c[3] for c in answer["calls"]]
    if client == "responses":
        return [i["arguments"] for i in answer["output"] if i["type"] == "function_call"]
    if client == "anthropic":
        return [b["input"] for b in answer["content"] if b["type"] == "tool_use"]
    if client == "genai":
        return [p["function_call"]["args"] for p in answer["parts"] if "function_call" in p]
    if client == "boto3":
        return [b["toolUse"]["input"] for b in answer["content"] if "toolUse" in b]
    return [c["function"]["arguments"] for c in answer["message"].get("tool_calls", [])]


def tool_args_texts_of(client, answer):
    """The arguments texts where the client's SDK shows them (None elsewhere)."""
    if client == "openai":
        return [c[4] for c in answer["calls"]]
    if client == "responses":
        return [i["arguments_text"] for i in answer["output"] if i["type"] == "function_call"]
    if client == "cohere":
        return [c["function"]["arguments_text"] for c in answer["message"].get("tool_calls", [])]
    return None


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("client", CLIENTS)
def test_stream_builds_the_non_stream_answer(sdks, client, provider, scenario):
    if client == "responses" and scenario == "stop_sequence":
        pytest.skip("the Responses API has no stop sequences")
    whole, streamed = both_ways(sdks, client, provider, scenario)
    if isinstance(whole, Failed) or isinstance(streamed, Failed):
        # Only Cohere's upstream answers the refusal scenario with its `ERROR` finish.
        assert (scenario, provider) == ("refusal", "cohere"), (whole, streamed)
        assert isinstance(whole, Failed) and isinstance(streamed, Failed), (whole, streamed)
        return
    assert streamed == whole
    if scenario in ("rich_tool_cached", "reasoning_cached"):
        # Equal, and not equally lost: the upstream's cache reads reach the client both ways.
        assert cache_read_of(client, whole) == 20, whole
    if scenario == "rich_tool_cached":
        # The upstream's value, key order and number types included; its text where shown.
        assert [json.dumps(a) for a in tool_args_of(client, whole)] == [json.dumps(RICH_ARGS)]
        assert tool_args_texts_of(client, whole) in (None, [RICH_ARGS_TEXT])
    if (client, scenario) == ("boto3", "stop_sequence") and provider in ("anthropic", "bedrock", "cohere", "mock"):
        assert whole["fields"] == {"stop_sequence": "END"}


# ---- Bedrock InvokeModel with a Claude body: the native events fold into the unstreamed body -----

INVOKE_SCENARIOS = {
    "unicode": ("echo", 'héllo "q" \\ 😀 日本', {}),
    "length": ("length", "one two three four five", {}),
    "stop_sequence": ("echo", "alpha beta END gamma", {"stop_sequences": ["END"]}),
    "rich_tool_cached": ("richargs-tool-cached", "weather?", {"tools": True}),
    "reasoning_cached": ("reasoning-cached", "think then answer", {}),
}


def fold_anthropic_events(events):
    """An Anthropic stream's events as the message they build (the SDK's accumulation)."""
    msg = None
    for e in events:
        if e["type"] == "message_start":
            msg = {**e["message"], "content": []}
        elif e["type"] == "content_block_start":
            block = dict(e["content_block"])
            if block["type"] == "tool_use":
                block["input"] = ""
            msg["content"].append(block)
        elif e["type"] == "content_block_delta":
            block, d = msg["content"][e["index"]], e["delta"]
            key = {"text_delta": "text", "input_json_delta": "input", "thinking_delta": "thinking"}.get(d["type"])
            if key:
                block[key] += d["partial_json" if key == "input" else key]
            elif d["type"] == "signature_delta":
                block["signature"] = d["signature"]
        elif e["type"] == "message_delta":
            msg.update(e["delta"])
            msg["usage"].update(e["usage"])
    for block in msg["content"]:
        if block["type"] == "tool_use":
            block["input"] = json.loads(block["input"] or "{}")
    return msg


@pytest.mark.parametrize("scenario", list(INVOKE_SCENARIOS))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_invoke_model_stream_builds_the_invoke_model_body(sdks, provider, scenario):
    name, text, kw = INVOKE_SCENARIOS[scenario]
    kw = dict(kw)  # popped below: each provider's run asks for the tools again
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}
    if kw.pop("tools", False):
        body["tools"] = [{"name": "get_weather", "description": "w", "input_schema": {"type": "object"}}]
    body.update(kw)
    c, model = sdks["boto3"].c, f"{provider}/anthropic.claude-{name}-model"
    whole = json.loads(c.invoke_model(modelId=model, body=json.dumps(body))["body"].read())
    r = c.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
    events = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    metrics = events[-1].pop("amazon-bedrock-invocationMetrics")
    streamed = fold_anthropic_events(events)
    whole.pop("id"), streamed.pop("id")
    assert streamed == whole
    assert metrics["outputTokenCount"] == whole["usage"]["output_tokens"]
    if "cached" in name:
        assert whole["usage"]["cache_read_input_tokens"] == 20
    if "richargs" in name:
        inputs = [json.dumps(b["input"]) for b in whole["content"] if b["type"] == "tool_use"]
        assert inputs == [json.dumps(RICH_ARGS)]


# ---- legacy completions -------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["unicode", "length", "stop_sequence", "reasoning_cached"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_legacy_completion_stream_builds_the_completion(sdks, provider, scenario):
    model, text, kw = SCENARIOS[scenario]
    c = sdks["openai"].c
    kw = dict(model=f"{provider}/{model}", prompt=text, max_tokens=50, **({"stop": kw["stop"]} if "stop" in kw else {}))
    whole = c.completions.create(**kw)
    pieces, finish, usage, models = [], None, None, set()
    for ch in c.completions.create(**kw, stream=True, stream_options={"include_usage": True}):
        models.add(ch.model)
        for choice in ch.choices:
            pieces.append(choice.text)
            finish = choice.finish_reason or finish
        usage = ch.usage or usage
    (choice,) = whole.choices
    assert ("".join(pieces), finish, usage, models) == (choice.text, choice.finish_reason, whole.usage, {whole.model})
