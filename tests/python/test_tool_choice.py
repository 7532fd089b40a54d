"""Tool choices across formats, with the real SDKs through Sluice to the mock of each kind.

OpenAI's `allowed_tools` (Chat Completions and the Responses API) lets the model call only the
listed tools. An OpenAI upstream gets it as sent, a Gemini one mode ANY with
`allowedFunctionNames` when a call is required, and the other formats are offered just the
allowed tools with the choice `auto` or `required` (README "tool_choice"). A named choice reaches
Cohere, which has only REQUIRED and NONE, as that tool alone with REQUIRED.

The mock's `inspect` scenario reports the tool choice it decoded and the tools it was offered
(`; tool_choice: ...; tools: ...`, src/mock/scenario.rs); its `tool` scenario calls the first
tool a choice allows.
"""

from __future__ import annotations

import pytest

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]


def fn(name: str) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }


TOOLS = [fn("get_weather"), fn("get_time"), fn("get_date")]
ALL = "get_weather,get_time,get_date"
ALLOWED = "get_time,get_date"

# The history calls `get_weather`, which the choice then leaves out.
HISTORY = [
    {"role": "user", "content": "weather in Paris?"},
    {
        "role": "assistant",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    {"role": "user", "content": "and the time there?"},
]


def allowed_chat(mode: str) -> dict:
    return {
        "type": "allowed_tools",
        "allowed_tools": {"mode": mode, "tools": [{"type": "function", "function": {"name": n}} for n in ("get_time", "get_date")]},
    }


def choice_of(report: str) -> tuple[str, str]:
    """The tool choice and the tools the upstream received (the `inspect` report)."""
    parts = dict(p.split(": ", 1) for p in report.split("; ") if ": " in p)
    return parts["tool_choice"], parts["tools"]


# What each upstream receives for an allowed-tools choice of mode `required` / `auto`.
EXPECTED = {
    "required": {
        "openai": (f"allowed required {ALLOWED}", ALL),
        "gemini": (f"allowed required {ALLOWED}", ALL),
        "anthropic": ("required", ALLOWED),
        "bedrock": ("required", ALLOWED),
        "cohere": ("required", ALLOWED),
    },
    "auto": {
        "openai": (f"allowed auto {ALLOWED}", ALL),
        # Gemini takes allowedFunctionNames with mode ANY only.
        "gemini": ("auto", ALLOWED),
        "anthropic": ("auto", ALLOWED),
        "bedrock": ("auto", ALLOWED),
        # Cohere has no AUTO: no tool_choice is its default.
        "cohere": ("unset", ALLOWED),
    },
}


@pytest.fixture(scope="module")
def oai(sluice):
    import openai

    c = openai.OpenAI(base_url=f"{sluice.base}/v1", api_key="k", max_retries=0, timeout=30)
    yield c
    c.close()


@pytest.mark.parametrize("mode", ["required", "auto"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_allowed_tools_reach_every_format(oai, provider, mode):
    r = oai.chat.completions.create(
        model=f"{provider}/inspect-model", messages=HISTORY, tools=TOOLS, tool_choice=allowed_chat(mode)
    )
    assert choice_of(r.choices[0].message.content) == EXPECTED[mode][provider]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_the_model_calls_an_allowed_tool(oai, provider, stream):
    kw = dict(model=f"{provider}/tool-model", messages=[{"role": "user", "content": "time?"}], tools=TOOLS)
    kw["tool_choice"] = allowed_chat("required")
    if stream:
        names = [
            tc.function.name
            for ch in oai.chat.completions.create(stream=True, **kw)
            if ch.choices
            for tc in ch.choices[0].delta.tool_calls or []
            if tc.function and tc.function.name
        ]
    else:
        names = [tc.function.name for tc in oai.chat.completions.create(**kw).choices[0].message.tool_calls]
    # The first tool is `get_weather`: a choice lost on the way would call it.
    assert names == ["get_time"]


@pytest.mark.parametrize("mode", ["required", "auto"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_responses_allowed_tools_reach_every_format(oai, provider, mode):
    tools = [{"type": "function", **t["function"]} for t in TOOLS]
    choice = {"type": "allowed_tools", "mode": mode, "tools": [{"type": "function", "name": n} for n in ("get_time", "get_date")]}
    r = oai.responses.create(model=f"{provider}/inspect-model", input="time?", tools=tools, tool_choice=choice)
    assert choice_of(r.output_text) == EXPECTED[mode][provider]
    if provider != "openai":
        # The translated answer repeats the choice as the SDK types it.
        assert r.tool_choice.type == "allowed_tools"
        assert (r.tool_choice.mode, [t["name"] for t in r.tool_choice.tools]) == (mode, ["get_time", "get_date"])


def test_a_named_choice_reaches_cohere_as_that_tool_required(oai):
    named = {"type": "function", "function": {"name": "get_date"}}
    r = oai.chat.completions.create(model="cohere/inspect-model", messages=HISTORY, tools=TOOLS, tool_choice=named)
    assert choice_of(r.choices[0].message.content) == ("required", "get_date")
    r = oai.chat.completions.create(
        model="cohere/tool-model", messages=[{"role": "user", "content": "date?"}], tools=TOOLS, tool_choice=named
    )
    assert [tc.function.name for tc in r.choices[0].message.tool_calls] == ["get_date"]


def test_gemini_any_with_several_names_is_allowed_tools_for_openai(sluice):
    from google import genai
    from google.genai import types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{sluice.base}/genai", api_version="v1beta"))
    decls = [
        types.FunctionDeclaration(name=t["function"]["name"], parameters_json_schema=t["function"]["parameters"])
        for t in TOOLS
    ]
    cfg = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=decls)],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["get_time", "get_date"])
        ),
    )
    r = c.models.generate_content(model="openai/inspect-model", contents="time?", config=cfg)
    # Every tool declared, the choice OpenAI's own.
    assert choice_of(r.text) == (f"allowed required {ALLOWED}", ALL)
    r = c.models.generate_content(model="anthropic/inspect-model", contents="time?", config=cfg)
    assert choice_of(r.text) == ("required", ALLOWED)


@pytest.mark.parametrize(
    "choice, says",
    [
        # A listed tool that is not declared.
        (
            {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "nope"}}]}},
            "nope",
        ),
        ({"type": "allowed_tools", "allowed_tools": {"mode": "sometimes", "tools": []}}, "auto or required"),
        ({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "custom", "custom": {"name": "x"}}]}}, "function"),
    ],
)
@pytest.mark.parametrize("provider", ["anthropic", "cohere"])
def test_bad_allowed_tools_are_refused_by_name(oai, provider, choice, says):
    import openai

    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(
            model=f"{provider}/inspect-model", messages=[{"role": "user", "content": "hi"}], tools=TOOLS, tool_choice=choice
        )
    assert says in str(e.value)
    assert e.value.param is not None and e.value.param.startswith("tool_choice"), e.value.param
