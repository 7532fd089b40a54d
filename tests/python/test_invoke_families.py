"""Bedrock InvokeModel with the native bodies of Amazon Nova, Cohere Command R, OpenAI (gpt-oss),
Meta Llama, Mistral, DeepSeek-R1 and Amazon Titan Text models, through boto3, with every provider kind behind
Sluice and straight at sluice-mock.

Each family's body is read as that family's own API (Nova: the Converse shape plus
`schemaVersion`, `max_new_tokens`, `topK`; Command R: Cohere's v1 chat; gpt-oss: Chat
Completions; Llama, Mistral, DeepSeek-R1, Titan: a prompt in the model's chat template, read
back into turns), and the answer comes back in the same family's native shape. Streams carry the
family's native events in `chunk` frames, the last one with `amazon-bedrock-invocationMetrics`.
Model ids name the mock's scenario (`tool`, `length`, `midstream`, `error-429`) and the family,
as Bedrock model ids do (`amazon.nova-...`, `cohere.command-r-...`, `openai.gpt-oss-...`).
"""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from conftest import bedrock_runtime

PROVIDERS = ["mock", "openai", "anthropic", "gemini", "bedrock", "cohere"]
FAMILIES = ["nova", "cohere", "openai"]
PROMPT_FAMILIES = ["llama", "mistral", "titan", "deepseek"]

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def model_id(family: str, scenario: str = "") -> str:
    tail = f"-{scenario}" if scenario else ""
    return {
        "nova": f"us.amazon.nova-lite{tail}-v1:0",
        "cohere": f"cohere.command-r{tail}-v1:0",
        "openai": f"openai.gpt-oss{tail}-20b-1:0",
        "llama": f"us.meta.llama3-1{tail}-8b-instruct-v1:0",
        "mistral": f"mistral.mistral{tail}-7b-instruct-v0:2",
        "titan": f"amazon.titan-text{tail}-express-v1",
        "deepseek": f"us.deepseek.r1{tail}-v1:0",
    }[family]


def body(family: str, text: str, tools: bool = False, max_tokens: int | None = None) -> dict:
    if family == "llama":
        # Llama 3's chat template, as LangChain and the Bedrock guide write it.
        prompt = (
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nbe brief<|eot_id|>"
            f"<|start_header_id|>user<|end_header_id|>\n\n{text}<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        )
        return {"prompt": prompt, "max_gen_len": max_tokens or 100, "temperature": 0.5}
    if family == "mistral":
        return {"prompt": f"<s>[INST] <<SYS>>\nbe brief\n<</SYS>>\n\n{text} [/INST]", "max_tokens": max_tokens or 100, "top_k": 20}
    if family == "deepseek":
        # The Bedrock guide's template: the answer opens with the reasoning's `<think>`.
        prompt = f"<\uff5cbegin\u2581of\u2581sentence\uff5c>be brief<\uff5cUser\uff5c>{text}<\uff5cAssistant\uff5c><think>\n"
        return {"prompt": prompt, "max_tokens": max_tokens or 100, "temperature": 0.5}
    if family == "titan":
        # Titan has no template: the whole text is the user's (so no system words here).
        return {"inputText": text, "textGenerationConfig": {"maxTokenCount": max_tokens or 100, "temperature": 0.5}}
    if family == "nova":
        b = {
            "schemaVersion": "messages-v1",
            "system": [{"text": "be brief"}],
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"max_new_tokens": max_tokens or 100, "temperature": 0.5, "topK": 20},
        }
        if tools:
            b["toolConfig"] = {"tools": [{"toolSpec": {"name": "get_weather", "description": "w", "inputSchema": {"json": WEATHER_SCHEMA}}}]}
        return b
    if family == "cohere":
        b = {"message": text, "preamble": "be brief", "max_tokens": max_tokens or 100, "k": 20}
        if tools:
            b["tools"] = [
                {"name": "get_weather", "description": "w", "parameter_definitions": {"city": {"type": "str", "required": True}}}
            ]
        return b
    b = {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}],
        "max_completion_tokens": max_tokens or 100,
    }
    if tools:
        b["tools"] = [{"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": WEATHER_SCHEMA}}]
    return b


def answer(family: str, out: dict) -> tuple[str, list[tuple[str, dict]], str, int, int]:
    """(text, [(tool name, args)], finish, input tokens, output tokens) of a native answer."""
    if family == "llama":
        return out["generation"], [], out["stop_reason"], out["prompt_token_count"], out["generation_token_count"]
    if family in ("mistral", "deepseek"):
        key = "outputs" if family == "mistral" else "choices"
        assert len(out[key]) == 1
        o = out[key][0]
        return o["text"], [], o["stop_reason"], -1, -1
    if family == "titan":
        r = out["results"][0]
        return r["outputText"], [], r["completionReason"], out["inputTextTokenCount"], r["tokenCount"]
    if family == "nova":
        content = out["output"]["message"]["content"]
        assert out["output"]["message"]["role"] == "assistant"
        text = "".join(b.get("text", "") for b in content)
        calls = [(b["toolUse"]["name"], b["toolUse"]["input"]) for b in content if "toolUse" in b]
        u = out["usage"]
        assert u["totalTokens"] == u["inputTokens"] + u["outputTokens"]
        return text, calls, out["stopReason"], u["inputTokens"], u["outputTokens"]
    if family == "cohere":
        calls = [(c["name"], c["parameters"]) for c in out.get("tool_calls") or []]
        billed = out["meta"]["billed_units"]
        return out["text"], calls, out["finish_reason"], billed["input_tokens"], billed["output_tokens"]
    assert out["object"] == "chat.completion"
    msg = out["choices"][0]["message"]
    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in msg.get("tool_calls") or []]
    u = out["usage"]
    return msg.get("content") or "", calls, out["choices"][0]["finish_reason"], u["prompt_tokens"], u["completion_tokens"]


def streamed(family: str, events: list[dict]) -> tuple[str, list[tuple[str, dict]], str]:
    """(text, [(tool name, args)], finish) assembled from a family's native stream events."""
    text, calls, finish = "", [], ""
    if family in PROMPT_FAMILIES:
        key, reason = {"llama": ("generation", "stop_reason"), "titan": ("outputText", "completionReason")}.get(family, ("text", "stop_reason"))
        for e in events:
            if family in ("mistral", "deepseek"):
                e = e["outputs" if family == "mistral" else "choices"][0]
            text += e[key]
            finish = e[reason] or finish
        return text, [], finish
    if family == "nova":
        args: dict[int, list] = {}
        for e in events:
            if "contentBlockStart" in e:
                start = e["contentBlockStart"]
                args[start["contentBlockIndex"]] = [start["start"]["toolUse"]["name"], ""]
            elif "contentBlockDelta" in e:
                d = e["contentBlockDelta"]
                if "text" in d["delta"]:
                    text += d["delta"]["text"]
                elif "toolUse" in d["delta"]:
                    args[d["contentBlockIndex"]][1] += d["delta"]["toolUse"]["input"]
            elif "messageStop" in e:
                finish = e["messageStop"]["stopReason"]
        calls = [(n, json.loads(a)) for n, a in args.values()]
        return text, calls, finish
    if family == "cohere":
        assert all("is_finished" in e for e in events)
        for e in events:
            if e["event_type"] == "text-generation":
                text += e["text"]
            elif e["event_type"] == "tool-calls-generation":
                calls = [(c["name"], c["parameters"]) for c in e["tool_calls"]]
            elif e["event_type"] == "stream-end":
                finish = e["finish_reason"]
        return text, calls, finish
    parts: dict[int, list] = {}
    for e in events:
        assert e["object"] == "chat.completion.chunk"
        for c in e["choices"]:
            d = c["delta"]
            text += d.get("content") or ""
            for t in d.get("tool_calls") or []:
                slot = parts.setdefault(t["index"], ["", ""])
                if t.get("function", {}).get("name"):
                    slot[0] = t["function"]["name"]
                slot[1] += t.get("function", {}).get("arguments") or ""
            finish = c.get("finish_reason") or finish
    return text, [(n, json.loads(a)) for n, a in parts.values()], finish


FINISH = {
    "nova": {"stop": "end_turn", "tool": "tool_use", "length": "max_tokens"},
    "cohere": {"stop": "COMPLETE", "tool": "COMPLETE", "length": "MAX_TOKENS"},
    "openai": {"stop": "stop", "tool": "tool_calls", "length": "length"},
    "llama": {"stop": "stop", "length": "length"},
    "mistral": {"stop": "stop", "length": "length"},
    "titan": {"stop": "FINISH", "length": "LENGTH"},
    "deepseek": {"stop": "stop", "length": "length"},
}
# Words the mock counts in: the system prompt "be brief" where the family has one.
SYSTEM_WORDS = {"titan": 0}


@pytest.fixture(scope="module")
def gateway(sluice):
    return bedrock_runtime(f"{sluice.base}/bedrock")


@pytest.fixture(scope="module")
def direct(sluice_mock):
    return bedrock_runtime(sluice_mock.base)


def invoke(client, model, b):
    r = client.invoke_model(modelId=model, body=json.dumps(b))
    assert r["contentType"] == "application/json"
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    return json.loads(r["body"].read()), headers


def invoke_stream(client, model, b):
    r = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(b))
    assert r["contentType"] == "application/json"
    return [json.loads(e["chunk"]["bytes"]) for e in r["body"]]


# ---- answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES + PROMPT_FAMILIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_text_answer_in_the_family_shape(gateway, provider, family):
    out, headers = invoke(gateway, f"{provider}/{model_id(family)}", body(family, "hello invoke"))
    text, calls, finish, inp, outp = answer(family, out)
    assert (text, calls, finish) == ("echo: hello invoke", [], FINISH[family]["stop"])
    # "be brief" + "hello invoke": four words in (Mistral's and DeepSeek's answers have no counts).
    want_in = 2 + SYSTEM_WORDS.get(family, 2)
    assert headers["x-amzn-bedrock-input-token-count"] == str(want_in)
    if family not in ("mistral", "deepseek"):
        assert inp == want_in and outp > 0
        assert headers["x-amzn-bedrock-output-token-count"] == str(outp)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_call_in_the_family_shape(gateway, provider, family):
    out, _ = invoke(gateway, f"{provider}/{model_id(family, 'tool')}", body(family, "weather?", tools=True))
    text, calls, finish, _, _ = answer(family, out)
    assert calls == [("get_weather", {"city": "Paris"})]
    assert finish == FINISH[family]["tool"]


@pytest.mark.parametrize("family", FAMILIES + PROMPT_FAMILIES)
@pytest.mark.parametrize("provider", ["mock", "anthropic", "bedrock"])
def test_length_finish_in_the_family_shape(gateway, provider, family):
    out, _ = invoke(gateway, f"{provider}/{model_id(family, 'length')}", body(family, "one two three four five", max_tokens=3))
    _, _, finish, _, _ = answer(family, out)
    assert finish == FINISH[family]["length"]


def test_cohere_command_r_tool_loop_carries_the_history(gateway):
    first = body("cohere", "weather?", tools=True)
    out, _ = invoke(gateway, f"anthropic/{model_id('cohere', 'tool')}", first)
    assert [c["name"] for c in out["tool_calls"]] == ["get_weather"]
    # The documented loop: send the answer's history back with the tools' results.
    second = dict(first)
    second.update(
        message="",
        chat_history=out["chat_history"],
        tool_results=[{"call": out["tool_calls"][0], "outputs": [{"temperature": "21C"}]}],
    )
    out2, _ = invoke(gateway, f"anthropic/{model_id('cohere')}", second)
    assert out2["text"].startswith("tool said: ") and "21C" in out2["text"]


def test_nova_tool_result_round_trip(gateway):
    b = body("nova", "weather?", tools=True)
    out, _ = invoke(gateway, f"openai/{model_id('nova', 'tool')}", b)
    use = next(c["toolUse"] for c in out["output"]["message"]["content"] if "toolUse" in c)
    b["messages"] += [
        out["output"]["message"],
        {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "21C"}]}}]},
    ]
    out2, _ = invoke(gateway, f"openai/{model_id('nova')}", b)
    text, _, _, _, _ = answer("nova", out2)
    assert text == "tool said: 21C"


def test_a_body_names_its_family_when_the_model_id_does_not(gateway):
    # A Sluice-routed id Bedrock would not know: the body's own markers decide.
    out, _ = invoke(gateway, "anthropic/my-model", body("nova", "by marker"))
    assert answer("nova", out)[0] == "echo: by marker"
    out, _ = invoke(gateway, "anthropic/my-model", body("cohere", "by marker"))
    assert answer("cohere", out)[0] == "echo: by marker"
    out, _ = invoke(gateway, "anthropic/my-model", body("openai", "by marker"))
    assert answer("openai", out)[0] == "echo: by marker"


@pytest.mark.parametrize("family", ["llama", "titan", "openai"])
def test_a_routed_id_that_names_a_family_still_takes_the_bodys(gateway, family):
    # `anthropic/claude-...` says "claude" but is no Bedrock id: a client that swapped only the
    # model keeps its own body, which was read as a Claude one (a 400 for `messages`, or a
    # Chat Completions body answered in Claude's shape).
    out, _ = invoke(gateway, "anthropic/claude-sonnet-4-5", body(family, "by marker"))
    assert answer(family, out)[0] == "echo: by marker"


def test_other_prompt_bodies_are_still_a_clear_400(gateway):
    with pytest.raises(gateway.exceptions.ValidationException) as e:
        gateway.invoke_model(modelId="anthropic/cohere.command-text-v14", body=json.dumps({"prompt": "hi", "max_tokens": 5}))
    assert "Converse" in str(e.value) and "Llama" in str(e.value)


def test_a_llama_conversation_is_read_back_into_turns(gateway):
    # The last user turn is what the mock echoes; the earlier turns count as input words.
    prompt = (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nfirst question<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nfirst answer<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nsecond one<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    out, _ = invoke(gateway, f"gemini/{model_id('llama')}", {"prompt": prompt})
    assert out["generation"] == "echo: second one"
    assert out["prompt_token_count"] == 6


@pytest.mark.parametrize("provider", ["mock", "openai", "anthropic", "bedrock"])
def test_a_titan_conversation_is_read_back_into_turns(gateway, provider):
    # Bedrock's guide writes Titan chat as `User: ...\nBot:`; the mock echoes the last user turn
    # and counts every turn as input words (instructions 2, turns 2 + 2 + 2).
    prompt = "Be brief.\n\nUser: first question\nBot: an answer\nUser: second one\nBot:"
    out, _ = invoke(gateway, f"{provider}/{model_id('titan')}", {"inputText": prompt})
    assert out["results"][0]["outputText"] == "echo: second one"
    assert out["inputTextTokenCount"] == 8


# A 1x1 PNG and a 1x1 GIF, base64, as Bedrock takes a Llama body's `images`.
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
GIF_1PX = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="


@pytest.mark.parametrize("provider", PROVIDERS)
def test_llama_images_reach_every_provider(gateway, provider):
    # Llama 3.2 Vision / Llama 4: each image stands at its `<|image|>` marker; the mock's `image`
    # scenario counts the images in the last user turn.
    prompt = (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        "<|image|><|image|>What differs between these?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    b = {"prompt": prompt, "images": [PNG_1PX, GIF_1PX], "max_gen_len": 50}
    out, _ = invoke(gateway, f"{provider}/us.meta.llama4-scout-image-17b-instruct-v1:0", b)
    assert out["generation"] == "I see 2 images"
    events = invoke_stream(gateway, f"{provider}/us.meta.llama4-scout-image-17b-instruct-v1:0", b)
    assert "".join(e["generation"] for e in events) == "I see 2 images"


def test_llama_images_that_cannot_be_placed_are_refused_by_name(gateway):
    model = "openai/us.meta.llama4-scout-image-17b-instruct-v1:0"
    for images, says in [([PNG_1PX], "1 image(s) for 2"), ([PNG_1PX, "bm90IGFuIGltYWdlIGF0IGFsbA=="], "images[1]")]:
        b = {"prompt": "<|image|> and <|image|>", "images": images}
        with pytest.raises(gateway.exceptions.ValidationException) as e:
            gateway.invoke_model(modelId=model, body=json.dumps(b))
        assert says in str(e.value)
    with pytest.raises(gateway.exceptions.ValidationException) as e:
        gateway.invoke_model(modelId=f"openai/{model_id('mistral')}", body=json.dumps({**body("mistral", "x"), "images": [PNG_1PX]}))
    assert "images" in str(e.value)


def test_an_ai21_jamba_body_is_a_chat_completions_body(gateway):
    b = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "jamba here"}], "max_tokens": 50}
    out, _ = invoke(gateway, "cohere/ai21.jamba-1-5-mini-v1:0", b)
    assert out["choices"][0]["message"]["content"] == "echo: jamba here"
    assert out["usage"]["prompt_tokens"] == 4


def test_a_mistral_chat_body_is_a_chat_completions_body(gateway):
    # Mistral Large 2 speaks `messages`.
    b = {"messages": [{"role": "user", "content": "large two"}], "max_tokens": 50}
    out, _ = invoke(gateway, "anthropic/mistral.mistral-large-2407-v1:0", b)
    assert out["choices"][0]["message"]["content"] == "echo: large two"


@pytest.mark.parametrize("family", FAMILIES)
def test_family_fields_other_providers_cannot_honour_are_refused_by_name(gateway, family):
    bad = {
        "nova": {**body("nova", "x"), "messages": [{"role": "user", "content": [{"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/k"}}}}]}]},
        "cohere": {**body("cohere", "x"), "documents": [{"title": "t", "snippet": "s"}]},
        "openai": {**body("openai", "x"), "n": 3},
    }[family]
    with pytest.raises(gateway.exceptions.ValidationException) as e:
        gateway.invoke_model(modelId=f"anthropic/{model_id(family)}", body=json.dumps(bad))
    field = {"nova": "video", "cohere": "documents", "openai": "n"}[family]
    assert field in str(e.value)


@pytest.mark.parametrize("family", FAMILIES)
def test_upstream_errors_are_bedrock_exceptions(gateway, family):
    with pytest.raises(gateway.exceptions.ThrottlingException):
        gateway.invoke_model(modelId=f"anthropic/{model_id(family, 'error-429')}", body=json.dumps(body(family, "x")))


# ---- streams -------------------------------------------------------------------------------------


def metrics_only_last(events):
    last = events[-1]["amazon-bedrock-invocationMetrics"]
    assert all("amazon-bedrock-invocationMetrics" not in e for e in events[:-1])
    return last


@pytest.mark.parametrize("family", FAMILIES + PROMPT_FAMILIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_of_native_events(gateway, provider, family):
    events = invoke_stream(gateway, f"{provider}/{model_id(family)}", body(family, "hello stream now"))
    text, calls, finish = streamed(family, events)
    assert (text, calls, finish) == ("echo: hello stream now", [], FINISH[family]["stop"])
    m = metrics_only_last(events)
    assert m["inputTokenCount"] == 3 + SYSTEM_WORDS.get(family, 2) and m["outputTokenCount"] > 0
    assert m["invocationLatency"] >= m["firstByteLatency"] >= 0


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_with_a_tool_call(gateway, provider, family):
    events = invoke_stream(gateway, f"{provider}/{model_id(family, 'tool')}", body(family, "weather?", tools=True))
    text, calls, finish = streamed(family, events)
    assert calls == [("get_weather", {"city": "Paris"})]
    assert finish == FINISH[family]["tool"]
    metrics_only_last(events)


def test_nova_stream_event_order(gateway):
    events = invoke_stream(gateway, f"anthropic/{model_id('nova', 'tool')}", body("nova", "weather?", tools=True))
    names = [next(k for k in e if not k.startswith("amazon-")) for e in events]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"], names
    assert "contentBlockStart" in names
    assert events[-1]["metadata"]["usage"]["inputTokens"] == 3


def test_openai_stream_with_include_usage_ends_with_the_usage_chunk(gateway):
    b = {**body("openai", "a b"), "stream_options": {"include_usage": True}}
    events = invoke_stream(gateway, f"gemini/{model_id('openai')}", b)
    last = events[-1]
    assert last["choices"] == [] and last["usage"]["prompt_tokens"] == 4
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("family", FAMILIES + PROMPT_FAMILIES)
def test_a_midstream_error_is_an_exception_event(gateway, family):
    r = gateway.invoke_model_with_response_stream(modelId=f"anthropic/{model_id(family, 'midstream')}", body=json.dumps(body(family, "a b c d")))
    seen = []
    with pytest.raises(botocore.exceptions.EventStreamError) as e:
        for ev in r["body"]:
            seen.append(json.loads(ev["chunk"]["bytes"]))
    assert e.value.response["Error"]["Code"] == "internalServerException"
    assert seen, "the events before the error were delivered"


@pytest.mark.parametrize("family", ["claude"] + FAMILIES + PROMPT_FAMILIES)
@pytest.mark.parametrize("scenario", ["unfinished", "cutoff"])
def test_a_relayed_stream_cut_short_ends_with_an_exception(gateway, family, scenario):
    # Same format (a Bedrock provider): the frames are relayed as they come. The upstream's body
    # ends (or its connection closes) after half the chunks, before the one with the invocation
    # metrics: the client gets an exception frame after the chunks it had, never a clean end.
    mid = model_id(family, scenario) if family != "claude" else f"anthropic.claude-{scenario}-v2"
    b = body(family, "a b c d") if family != "claude" else {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "a b c d"}],
    }
    r = gateway.invoke_model_with_response_stream(modelId=f"bedrock/{mid}", body=json.dumps(b))
    seen = []
    with pytest.raises(botocore.exceptions.EventStreamError) as e:
        for ev in r["body"]:
            seen.append(json.loads(ev["chunk"]["bytes"]))
    assert e.value.response["Error"]["Code"] == "internalServerException", e.value.response
    assert "upstream stream" in e.value.response["Error"]["Message"], e.value.response
    assert seen, "the chunks before the cut were delivered"
    assert not any("amazon-bedrock-invocationMetrics" in c for c in seen), seen


# ---- sluice-mock speaks the families natively --------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES + PROMPT_FAMILIES)
def test_mock_direct_answer_and_stream(direct, family):
    if family in PROMPT_FAMILIES:
        out, _ = invoke(direct, model_id(family), body(family, "direct answer"))
        assert answer(family, out)[0] == "echo: direct answer"
    else:
        out, _ = invoke(direct, model_id(family, "tool"), body(family, "weather?", tools=True))
        assert answer(family, out)[1] == [("get_weather", {"city": "Paris"})]
    events = invoke_stream(direct, model_id(family), body(family, "direct stream"))
    assert streamed(family, events)[0] == "echo: direct stream"
    metrics_only_last(events)
