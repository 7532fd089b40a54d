"""Every official SDK against Sluice, with every provider kind behind it (5 x 5).

Sluice's providers `openai`, `anthropic`, `gemini`, `bedrock` and `cohere` all point at
sluice-mock, which speaks each format natively. A request sent with SDK X for model
`<provider>/<scenario>` is therefore translated from X to the provider's format, answered by the
mock in that format, and translated back, unless X equals the provider's format, in which case it
passes through. The mock's behaviour is defined once in canonical terms (src/mock/scenario.rs),
so every cell must give the same answer:

- `echo` model: text `echo: <last user text>`, usage input = words in system + messages;
- `tool-model`: text `Let me check.` and one call `get_weather({"city": "Paris"})`;
- `parallel-model`: two calls, Paris and Rome;
- a tool result in the last user turn: text `tool said: <result>`;
- `image-model`: `I see N image(s)`;
- `length-model`: `echo: <first word>` cut to three words, finish = length;
- `error-429` / `error-500`: the SDK's own exception for that status.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pytest

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]
SDKS = ["openai", "anthropic", "genai", "boto3", "cohere"]

# A 1x1 PNG.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
IMAGE_URL = "https://example.com/cat.png"

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


@dataclass
class Answer:
    text: str
    calls: list[tuple[str, str, dict]] = field(default_factory=list)  # (id, name, args)
    finish: str = ""  # normalised: stop | length | tool | stop_sequence
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Turn:
    """A conversation turn in SDK-neutral form."""

    role: str  # user | assistant | tool
    text: str = ""
    images: list[str] = field(default_factory=list)  # "b64" or a URL
    calls: list[tuple[str, str, dict]] = field(default_factory=list)
    tool_id: str = ""
    tool_name: str = ""


def user(text, images=()):
    return Turn("user", text, list(images))


# ---- adapters: one per SDK --------------------------------------------------------------------


class OpenAISdk:
    def __init__(self, base):
        import openai

        self.m = openai
        self.c = openai.OpenAI(base_url=f"{base}/v1", api_key="client-key", max_retries=0, timeout=30)

    def params(self, model, turns, system=None, tools=False, max_tokens=None, stop=None):
        msgs = [{"role": "system", "content": system}] if system else []
        for t in turns:
            if t.role == "user":
                if t.images:
                    parts = [{"type": "text", "text": t.text}]
                    for img in t.images:
                        url = f"data:image/png;base64,{PNG_B64}" if img == "b64" else img
                        parts.append({"type": "image_url", "image_url": {"url": url}})
                    msgs.append({"role": "user", "content": parts})
                else:
                    msgs.append({"role": "user", "content": t.text})
            elif t.role == "assistant":
                m = {"role": "assistant", "content": t.text or None}
                if t.calls:
                    m["tool_calls"] = [
                        {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                        for i, n, a in t.calls
                    ]
                msgs.append(m)
            else:
                msgs.append({"role": "tool", "tool_call_id": t.tool_id, "content": t.text})
        kw = {}
        if tools:
            kw["tools"] = [
                {"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": WEATHER_SCHEMA}}
            ]
        if max_tokens:
            kw["max_tokens"] = max_tokens
        if stop:
            kw["stop"] = stop
        return dict(model=model, messages=msgs, **kw)

    def chat(self, model, turns, **kw):
        r = self.c.chat.completions.create(**self.params(model, turns, **kw))
        ch = r.choices[0]
        calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in (ch.message.tool_calls or [])]
        finish = {"stop": "stop", "length": "length", "tool_calls": "tool"}.get(ch.finish_reason, ch.finish_reason)
        return Answer(ch.message.content or "", calls, finish, r.usage.prompt_tokens, r.usage.completion_tokens)

    def error_class(self, status):
        return {429: self.m.RateLimitError, 500: self.m.InternalServerError, 400: self.m.BadRequestError}[status]


class AnthropicSdk:
    def __init__(self, base):
        import anthropic

        self.m = anthropic
        self.c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="client-key", max_retries=0, timeout=30)

    def params(self, model, turns, system=None, tools=False, max_tokens=None, stop=None):
        msgs = []
        for t in turns:
            if t.role == "user":
                content = [{"type": "text", "text": t.text}]
                for img in t.images:
                    if img == "b64":
                        src = {"type": "base64", "media_type": "image/png", "data": PNG_B64}
                    else:
                        src = {"type": "url", "url": img}
                    content.append({"type": "image", "source": src})
                msgs.append({"role": "user", "content": content})
            elif t.role == "assistant":
                content = [{"type": "text", "text": t.text}] if t.text else []
                content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in t.calls]
                msgs.append({"role": "assistant", "content": content})
            else:
                msgs.append(
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": t.tool_id, "content": t.text}]}
                )
        kw = {}
        if system:
            kw["system"] = system
        if tools:
            kw["tools"] = [{"name": "get_weather", "description": "w", "input_schema": WEATHER_SCHEMA}]
        if stop:
            kw["stop_sequences"] = stop
        return dict(model=model, max_tokens=max_tokens or 256, messages=msgs, **kw)

    def chat(self, model, turns, **kw):
        r = self.c.messages.create(**self.params(model, turns, **kw))
        text = "".join(b.text for b in r.content if b.type == "text")
        calls = [(b.id, b.name, b.input) for b in r.content if b.type == "tool_use"]
        finish = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool"}.get(r.stop_reason, r.stop_reason)
        return Answer(text, calls, finish, r.usage.input_tokens, r.usage.output_tokens)

    def error_class(self, status):
        return {429: self.m.RateLimitError, 500: self.m.InternalServerError, 400: self.m.BadRequestError}[status]


class GenaiSdk:
    def __init__(self, base):
        from google import genai
        from google.genai import errors, types

        self.types, self.errors = types, errors
        self.c = genai.Client(
            api_key="client-key",
            http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=30_000),
        )

    def params(self, model, turns, system=None, tools=False, max_tokens=None, stop=None):
        T = self.types
        contents = []
        for t in turns:
            if t.role == "user":
                parts = [T.Part(text=t.text)]
                for img in t.images:
                    if img == "b64":
                        parts.append(T.Part.from_bytes(data=base64.b64decode(PNG_B64), mime_type="image/png"))
                    else:
                        parts.append(T.Part.from_uri(file_uri=img, mime_type="image/png"))
                contents.append(T.Content(role="user", parts=parts))
            elif t.role == "assistant":
                parts = [T.Part(text=t.text)] if t.text else []
                parts += [T.Part(function_call=T.FunctionCall(id=i, name=n, args=a)) for i, n, a in t.calls]
                contents.append(T.Content(role="model", parts=parts))
            else:
                contents.append(
                    T.Content(
                        role="user",
                        parts=[
                            T.Part(
                                function_response=T.FunctionResponse(
                                    id=t.tool_id, name=t.tool_name, response={"result": t.text}
                                )
                            )
                        ],
                    )
                )
        cfg = {}
        if system:
            cfg["system_instruction"] = system
        if tools:
            cfg["tools"] = [
                T.Tool(
                    function_declarations=[
                        T.FunctionDeclaration(name="get_weather", description="w", parameters_json_schema=WEATHER_SCHEMA)
                    ]
                )
            ]
            cfg["automatic_function_calling"] = T.AutomaticFunctionCallingConfig(disable=True)
        if max_tokens:
            cfg["max_output_tokens"] = max_tokens
        if stop:
            cfg["stop_sequences"] = stop
        return dict(model=model, contents=contents, config=T.GenerateContentConfig(**cfg))

    def chat(self, model, turns, **kw):
        r = self.c.models.generate_content(**self.params(model, turns, **kw))
        cand = r.candidates[0]
        # An answer with nothing in it (a blocked or malformed one) may have no `content`.
        parts = (cand.content and cand.content.parts) or []
        text = "".join(p.text for p in parts if p.text and not p.thought)  # thoughts are not the answer
        calls = [(p.function_call.id or "", p.function_call.name, dict(p.function_call.args)) for p in parts if p.function_call]
        fr = cand.finish_reason.value if cand.finish_reason else ""
        finish = "tool" if calls else {"STOP": "stop", "MAX_TOKENS": "length"}.get(fr, fr)
        u = r.usage_metadata
        return Answer(text, calls, finish, u.prompt_token_count or 0, u.candidates_token_count or 0)

    def error_class(self, status):
        return self.errors.ClientError if status < 500 else self.errors.ServerError


class Boto3Sdk:
    def __init__(self, base):
        from conftest import bedrock_runtime

        self.c = bedrock_runtime(f"{base}/bedrock")

    def params(self, model, turns, system=None, tools=False, max_tokens=None, stop=None):
        msgs = []
        for t in turns:
            if t.role == "user":
                content = [{"text": t.text}]
                for img in t.images:
                    assert img == "b64", "Bedrock clients can only send image bytes"
                    content.append({"image": {"format": "png", "source": {"bytes": base64.b64decode(PNG_B64)}}})
                msgs.append({"role": "user", "content": content})
            elif t.role == "assistant":
                content = [{"text": t.text}] if t.text else []
                content += [{"toolUse": {"toolUseId": i, "name": n, "input": a}} for i, n, a in t.calls]
                msgs.append({"role": "assistant", "content": content})
            else:
                msgs.append(
                    {
                        "role": "user",
                        "content": [{"toolResult": {"toolUseId": t.tool_id, "content": [{"text": t.text}]}}],
                    }
                )
        kw = {}
        if system:
            kw["system"] = [{"text": system}]
        if tools:
            kw["toolConfig"] = {
                "tools": [{"toolSpec": {"name": "get_weather", "description": "w", "inputSchema": {"json": WEATHER_SCHEMA}}}]
            }
        inference = {}
        if max_tokens:
            inference["maxTokens"] = max_tokens
        if stop:
            inference["stopSequences"] = stop
        if inference:
            kw["inferenceConfig"] = inference
        return dict(modelId=model, messages=msgs, **kw)

    def chat(self, model, turns, **kw):
        r = self.c.converse(**self.params(model, turns, **kw))
        content = r["output"]["message"]["content"]
        text = "".join(b["text"] for b in content if "text" in b)
        calls = [(b["toolUse"]["toolUseId"], b["toolUse"]["name"], b["toolUse"]["input"]) for b in content if "toolUse" in b]
        finish = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool"}.get(r["stopReason"], r["stopReason"])
        return Answer(text, calls, finish, r["usage"]["inputTokens"], r["usage"]["outputTokens"])

    def error_class(self, status):
        return {
            429: self.c.exceptions.ThrottlingException,
            500: self.c.exceptions.InternalServerException,
            400: self.c.exceptions.ValidationException,
        }[status]


class CohereSdk:
    def __init__(self, base):
        import cohere

        self.m = cohere
        self.c = cohere.ClientV2(api_key="client-key", base_url=f"{base}/cohere", timeout=30)

    def params(self, model, turns, system=None, tools=False, max_tokens=None, stop=None):
        msgs = [{"role": "system", "content": system}] if system else []
        for t in turns:
            if t.role == "user":
                if t.images:
                    content = [{"type": "text", "text": t.text}]
                    for img in t.images:
                        url = f"data:image/png;base64,{PNG_B64}" if img == "b64" else img
                        content.append({"type": "image_url", "image_url": {"url": url}})
                    msgs.append({"role": "user", "content": content})
                else:
                    msgs.append({"role": "user", "content": t.text})
            elif t.role == "assistant":
                m = {"role": "assistant"}
                if t.text:
                    # Cohere refuses text content beside tool calls: it is the tool plan.
                    m["tool_plan" if t.calls else "content"] = t.text
                if t.calls:
                    m["tool_calls"] = [
                        {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                        for i, n, a in t.calls
                    ]
                msgs.append(m)
            else:
                msgs.append({"role": "tool", "tool_call_id": t.tool_id, "content": t.text})
        kw = {}
        if tools:
            kw["tools"] = [
                {"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": WEATHER_SCHEMA}}
            ]
        if max_tokens:
            kw["max_tokens"] = max_tokens
        if stop:
            kw["stop_sequences"] = stop
        return dict(model=model, messages=msgs, **kw)

    def chat(self, model, turns, **kw):
        r = self.c.chat(**self.params(model, turns, **kw))
        text = "".join(c.text for c in (r.message.content or []) if getattr(c, "type", "") == "text")
        # Cohere puts the text that precedes tool calls in `tool_plan`, not in `content`.
        text = text or (r.message.tool_plan or "")
        calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in (r.message.tool_calls or [])]
        finish = {"COMPLETE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool", "STOP_SEQUENCE": "stop_sequence"}.get(
            r.finish_reason, r.finish_reason
        )
        tokens = r.usage.tokens
        return Answer(text, calls, finish, int(tokens.input_tokens or 0), int(tokens.output_tokens or 0))

    def error_class(self, status):
        return {
            429: self.m.errors.TooManyRequestsError,
            500: self.m.errors.InternalServerError,
            400: self.m.errors.BadRequestError,
        }[status]


ADAPTERS = {"openai": OpenAISdk, "anthropic": AnthropicSdk, "genai": GenaiSdk, "boto3": Boto3Sdk, "cohere": CohereSdk}


@pytest.fixture(scope="module")
def sdks(sluice):
    return {name: cls(sluice.base) for name, cls in ADAPTERS.items()}


matrix = pytest.mark.parametrize("provider", PROVIDERS)
per_sdk = pytest.mark.parametrize("sdk_name", SDKS)


# ---- the scenarios ----------------------------------------------------------------------------


@per_sdk
@matrix
def test_simple_chat(sdks, sdk_name, provider):
    a = sdks[sdk_name].chat(f"{provider}/echo-model", [user("hello there")])
    assert a.text == "echo: hello there"
    assert a.finish == "stop"
    assert (a.input_tokens, a.output_tokens) == (2, 3)


@per_sdk
@matrix
def test_system_prompt_and_multi_turn(sdks, sdk_name, provider):
    turns = [user("first question"), Turn("assistant", "first answer"), user("second one please")]
    a = sdks[sdk_name].chat(f"{provider}/echo-model", turns, system="be very brief")
    assert a.text == "echo: second one please"
    # words: system 3 + 2 + 2 + 3 = 10 (the mock counts every text part it received)
    assert a.input_tokens == 10


@per_sdk
@matrix
def test_single_tool_call(sdks, sdk_name, provider):
    a = sdks[sdk_name].chat(f"{provider}/tool-model", [user("weather in Paris?")], tools=True)
    assert a.finish == "tool"
    assert [(n, args) for _, n, args in a.calls] == [("get_weather", {"city": "Paris"})]
    assert a.calls[0][0], "a tool call needs an id the client can answer"
    assert a.text == "Let me check."


@per_sdk
@matrix
def test_parallel_tool_calls(sdks, sdk_name, provider):
    a = sdks[sdk_name].chat(f"{provider}/parallel-model", [user("weather in Paris and Rome?")], tools=True)
    assert a.finish == "tool"
    assert [(n, args) for _, n, args in a.calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert len({i for i, _, _ in a.calls}) == 2, "each call has its own id"


@per_sdk
@matrix
def test_tool_round_trip(sdks, sdk_name, provider):
    sdk = sdks[sdk_name]
    first = sdk.chat(f"{provider}/tool-model", [user("weather?")], tools=True)
    call_id, name, args = first.calls[0]
    turns = [
        user("weather?"),
        Turn("assistant", first.text, calls=[(call_id, name, args)]),
        Turn("tool", "sunny", tool_id=call_id, tool_name=name),
    ]
    a = sdk.chat(f"{provider}/tool-model", turns, tools=True)
    assert a.text == "tool said: sunny"
    assert a.finish == "stop"


@per_sdk
@matrix
def test_image_base64_and_multiple(sdks, sdk_name, provider):
    sdk = sdks[sdk_name]
    assert sdk.chat(f"{provider}/image-model", [user("what is this?", ["b64"])]).text == "I see 1 image"
    assert sdk.chat(f"{provider}/image-model", [user("and these?", ["b64", "b64"])]).text == "I see 2 images"


@pytest.mark.parametrize("sdk_name", ["openai", "anthropic", "genai", "cohere"])
@matrix
def test_image_url(sdks, sdk_name, provider):
    sdk = sdks[sdk_name]
    if provider == "bedrock":
        # Bedrock has no image-by-URL input: a clear 400 in the client's format, never a silent drop.
        with pytest.raises(sdk.error_class(400)) as e:
            sdk.chat(f"{provider}/image-model", [user("what is this?", [IMAGE_URL])])
        assert "image" in str(e.value).lower()
        return
    assert sdk.chat(f"{provider}/image-model", [user("what is this?", [IMAGE_URL])]).text == "I see 1 image"


@per_sdk
@matrix
def test_length_finish(sdks, sdk_name, provider):
    a = sdks[sdk_name].chat(f"{provider}/length-model", [user("one two three four five")])
    assert a.finish == "length"
    assert a.text == "echo: one two"


@per_sdk
@matrix
def test_stop_sequence_finish(sdks, sdk_name, provider):
    a = sdks[sdk_name].chat(f"{provider}/echo-model", [user("alpha beta END gamma")], stop=["END"])
    assert a.text == "echo: alpha beta "
    # "Stopped at a stop sequence" survives only where both formats can say it; elsewhere it is a
    # normal stop (OpenAI and Gemini have no separate value).
    distinct = {"anthropic", "boto3", "cohere"}
    expected = "stop_sequence" if sdk_name in distinct and provider in {"anthropic", "bedrock", "cohere"} else "stop"
    assert a.finish == expected


@pytest.mark.parametrize("provider", ["mock", "anthropic", "bedrock", "cohere"])
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_clients_learn_which_stop_sequence_matched(sdks, provider, stream):
    """Cohere and Bedrock say only that a stop sequence matched; with one asked for, an
    Anthropic client gets it in `stop_sequence`, as from Anthropic itself."""
    c = sdks["anthropic"].c
    kw = dict(
        model=f"{provider}/echo-model",
        max_tokens=100,
        messages=[{"role": "user", "content": "alpha beta END gamma"}],
        stop_sequences=["END"],
    )
    if stream:
        with c.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        msg = c.messages.create(**kw)
    assert (msg.stop_reason, msg.stop_sequence) == ("stop_sequence", "END")


@per_sdk
@matrix
@pytest.mark.parametrize("status", [429, 500])
def test_upstream_errors_in_client_format(sdks, sdk_name, provider, status):
    sdk = sdks[sdk_name]
    with pytest.raises(sdk.error_class(status)):
        sdk.chat(f"{provider}/error-{status}", [user("hi")])


# ---- Bedrock InvokeModel (Anthropic-native bodies) with every provider kind behind it ----------


@matrix
def test_boto3_invoke_model(sdks, provider):
    c = sdks["boto3"].c
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "system": "be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello invoke"}]}],
    }
    r = c.invoke_model(modelId=f"{provider}/anthropic.claude-3-5-sonnet-20240620-v1:0", body=json.dumps(body))
    out = json.loads(r["body"].read())
    assert out["type"] == "message"
    assert out["content"] == [{"type": "text", "text": "echo: hello invoke"}]
    assert out["stop_reason"] == "end_turn"
    assert out["usage"]["input_tokens"] == 4


@matrix
def test_boto3_invoke_model_tool_call(sdks, provider):
    c = sdks["boto3"].c
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "tools": [{"name": "get_weather", "description": "w", "input_schema": WEATHER_SCHEMA}],
        "messages": [{"role": "user", "content": "weather?"}],
    }
    r = c.invoke_model(modelId=f"{provider}/anthropic.claude-tool-model", body=json.dumps(body))
    out = json.loads(r["body"].read())
    assert out["stop_reason"] == "tool_use"
    uses = [b for b in out["content"] if b["type"] == "tool_use"]
    assert [(u["name"], u["input"]) for u in uses] == [("get_weather", {"city": "Paris"})]


def test_boto3_invoke_model_non_anthropic_is_a_clear_400(sdks):
    c = sdks["boto3"].c
    with pytest.raises(c.exceptions.ValidationException) as e:
        c.invoke_model(modelId="openai/cohere.command-text-v14", body=json.dumps({"prompt": "hi", "max_tokens": 5}))
    assert "Converse" in str(e.value)
