"""Tool names one format allows and another refuses: renamed for the upstream, given back.

A google-genai client's `github.create_issue` breaks OpenAI's, Anthropic's, Bedrock's and
Cohere's rule (no dots); an Anthropic client's 100-character name breaks OpenAI's (at most 64).
The mock refuses such names as the real APIs do (`mock::upstream_rules`), so these pass only if
Sluice sends a fitting name, and the client sees its own name in the call and sends it back with
the result in the next turn.
"""

from __future__ import annotations

import json

import pytest

DOTTED = "github.create_issue"
LONG = "lookup_" + "x" * 93
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(scope="module")
def base(sluice):
    return sluice.base


def genai_client(base):
    from google import genai
    from google.genai import types

    return genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=30_000)
    )


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "bedrock", "cohere"])
def test_gemini_dotted_name_comes_back_as_declared(base, provider, stream):
    from google.genai import types

    c = genai_client(base)
    model = f"{provider}/tool-model"
    decl = types.FunctionDeclaration(name=DOTTED, description="d", parameters_json_schema=SCHEMA)
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[decl])])
    contents = [types.Content(role="user", parts=[types.Part.from_text(text="open an issue")])]
    if stream:
        chunks = c.models.generate_content_stream(model=model, contents=contents, config=config)
        calls = [fc for ch in chunks for fc in ch.function_calls or []]
    else:
        calls = c.models.generate_content(model=model, contents=contents, config=config).function_calls
    assert [fc.name for fc in calls] == [DOTTED]
    assert calls[0].args == {"city": "Paris"}
    reply = types.FunctionResponse(id=calls[0].id, name=DOTTED, response={"result": "issue 7"})
    contents += [
        types.Content(role="model", parts=[types.Part(function_call=calls[0])]),
        types.Content(role="user", parts=[types.Part(function_response=reply)]),
    ]
    assert "issue 7" in c.models.generate_content(model=model, contents=contents, config=config).text


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_anthropic_long_name_comes_back_as_declared_from_openai(base, stream):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    kw = dict(
        model="openai/tool-model",
        max_tokens=100,
        tools=[
            {"name": "get_time", "description": "t", "input_schema": SCHEMA},
            {"name": LONG, "description": "d", "input_schema": SCHEMA},
        ],
        # A named choice is renamed with the declaration: the mock calls the tool it names.
        tool_choice={"type": "tool", "name": LONG},
    )
    messages = [{"role": "user", "content": "weather?"}]
    if stream:
        with c.messages.stream(messages=messages, **kw) as s:
            r = s.get_final_message()
    else:
        r = c.messages.create(messages=messages, **kw)
    calls = [b for b in r.content if b.type == "tool_use"]
    assert [b.name for b in calls] == [LONG]
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in r.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id, "content": "sunny"}]},
    ]
    kw["tool_choice"] = {"type": "auto"}
    again = c.messages.create(messages=messages, **kw)
    assert "sunny" in "".join(b.text for b in again.content if b.type == "text")


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("provider", ["gemini", "cohere"])
def test_openai_name_from_a_digit_comes_back_from_gemini_and_cohere(base, provider, stream):
    """Gemini and Cohere take no name that starts with a digit; OpenAI does."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    tools = [{"type": "function", "function": {"name": "2fa_check", "parameters": SCHEMA}}]
    kw = dict(model=f"{provider}/tool-model", messages=[{"role": "user", "content": "check"}], tools=tools)
    if stream:
        names = [
            tc.function.name
            for ch in c.chat.completions.create(stream=True, **kw)
            for choice in ch.choices
            for tc in choice.delta.tool_calls or []
            if tc.function and tc.function.name
        ]
    else:
        names = [tc.function.name for tc in c.chat.completions.create(**kw).choices[0].message.tool_calls]
    assert names == ["2fa_check"]


def test_same_format_passthrough_keeps_the_name(base):
    """Sluice rewrites no body going to its own format: OpenAI's own 400 reaches the client."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    tools = [{"type": "function", "function": {"name": DOTTED, "parameters": SCHEMA}}]
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(
            model="openai/tool-model", messages=[{"role": "user", "content": "hi"}], tools=tools
        )
    assert DOTTED in json.dumps(e.value.body)
