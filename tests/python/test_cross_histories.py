"""Realistic conversation histories, each sent by one official SDK to every other format.

The mock refuses what each real API refuses about a conversation's shape (tool calls answered in
the next turn, Converse's alternating turns, Gemini's function-response counts, Anthropic's
thinking limits; see `mock::upstream_rules`), so a history one format's clients legitimately
send must come out of the translation in a shape the other format takes. Each history is first
sent to its own format (passthrough), and every other provider must give the same answer.
"""

from __future__ import annotations

import pytest

OTHERS = {
    "openai": ["anthropic", "gemini", "bedrock", "cohere"],
    "anthropic": ["openai", "gemini", "bedrock", "cohere"],
    "gemini": ["openai", "anthropic", "bedrock", "cohere"],
    "cohere": ["openai", "anthropic", "gemini", "bedrock"],
}

# The thinking signatures the mock's Claude and Gemini families make (`scenario::MOCK_TOKENS`);
# each family's mock accepts its own only.
MOCK_CLAUDE_SIG = "EgtzbHVpY2UtbW9jay1jbGF1ZGU="
MOCK_GEMINI_SIG = "CgtzbHVpY2UtbW9jay1nZW1pbmk="

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(scope="module")
def base(sluice):
    return sluice.base


# OpenAI client ----------------------------------------------------------------------------------

OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]


def openai_calls(*ids):
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": f'{{"city":"{i}"}}'}}
            for i in ids
        ],
    }


OPENAI_HISTORIES = {
    # Parallel calls, their results, then the user speaks again in the same turn.
    "parallel_then_text": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        openai_calls("call_a", "call_b"),
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "rainy"},
        {"role": "user", "content": "thanks, and tomorrow"},
    ],
    # The answer after the results, then a new question.
    "calls_answer_question": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather?"},
        {**openai_calls("call_a"), "content": "Let me check."},
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "great news"},
    ],
    # A chat UI's greeting opens the conversation.
    "assistant_greets_first": [
        {"role": "system", "content": "be brief"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "say hi"},
    ],
    # A blank message in the middle (a UI that sent an empty input).
    "blank_user_message": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": "still there?"},
        {"role": "user", "content": "yes"},
    ],
    # Two user messages in a row (a retry, or a follow-up before the answer).
    "two_user_messages": [
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    ],
}


def openai_text(base, model, messages, stream=False, **kw):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    if stream:
        return "".join(
            ch.choices[0].delta.content or ""
            for ch in c.chat.completions.create(model=model, messages=messages, stream=True, **kw)
            if ch.choices
        )
    return c.chat.completions.create(model=model, messages=messages, **kw).choices[0].message.content


def extras(report):
    """The raw extra fields an `inspect` answer names (src/mock/scenario.rs)."""
    return report.split(";")[0].removeprefix("extras:").strip().split(",")


# Formats that merge consecutive turns of one role, where the mock echoes the merged turn.
MERGING = {"anthropic", "bedrock", "gemini"}


@pytest.mark.parametrize("history", sorted(OPENAI_HISTORIES))
@pytest.mark.parametrize("provider", OTHERS["openai"])
@pytest.mark.parametrize("stream", [False, True])
def test_openai_history_reaches_every_format(base, history, provider, stream):
    messages = OPENAI_HISTORIES[history]
    want = openai_text(base, "openai/echo-model", messages, tools=OPENAI_TOOLS)
    if history == "two_user_messages" and provider in MERGING:
        want = "echo: first second"
    assert openai_text(base, f"{provider}/echo-model", messages, stream, tools=OPENAI_TOOLS) == want


# Anthropic client -------------------------------------------------------------------------------


def tool_use(i):
    return {"type": "tool_use", "id": i, "name": "get_weather", "input": {"city": i}}


def tool_result(i, text):
    return {"type": "tool_result", "tool_use_id": i, "content": text}


ANTHROPIC_HISTORIES = {
    # Anthropic merges consecutive user turns, so results may come one message each.
    "results_in_separate_messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, tool_use("toolu_a"), tool_use("toolu_b")]},
        {"role": "user", "content": [tool_result("toolu_a", "sunny")]},
        {"role": "user", "content": [tool_result("toolu_b", "rainy")]},
    ],
    # A thinking model's history: signed thinking before the call, results then a question.
    "thinking_and_tools": [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should call the tool.", "signature": MOCK_CLAUDE_SIG},
                tool_use("toolu_a"),
            ],
        },
        {"role": "user", "content": [tool_result("toolu_a", "sunny"), {"type": "text", "text": "and tomorrow"}]},
    ],
}


def with_signed_thinking(m):
    content = m["content"]
    if m["role"] != "assistant" or isinstance(content, str) or content[0]["type"] in ("thinking", "redacted_thinking"):
        return m
    return {**m, "content": [{"type": "thinking", "thinking": "Let me see.", "signature": MOCK_CLAUDE_SIG}, *content]}


def anthropic_text(base, model, messages, stream=False, **kw):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    tools = [{"name": "get_weather", "input_schema": WEATHER}]
    if stream:
        with c.messages.stream(model=model, max_tokens=4096, messages=messages, tools=tools, **kw) as s:
            return "".join(s.text_stream)
    r = c.messages.create(model=model, max_tokens=4096, messages=messages, tools=tools, **kw)
    return "".join(b.text for b in r.content if b.type == "text")


@pytest.mark.parametrize("history", sorted(ANTHROPIC_HISTORIES))
@pytest.mark.parametrize("provider", OTHERS["anthropic"])
@pytest.mark.parametrize("thinking", [False, True])
def test_anthropic_history_reaches_every_format(base, history, provider, thinking):
    messages = ANTHROPIC_HISTORIES[history]
    kw = {}
    if thinking:
        # With thinking on, Anthropic wants each tool loop's assistant turn to open with its
        # signed thinking, as a thinking model's own answers do (the mock checks it).
        messages = [with_signed_thinking(m) for m in messages]
        kw = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    want = anthropic_text(base, "anthropic/echo-model", messages, **kw)
    if history == "results_in_separate_messages":
        # Anthropic merges the two result messages; the mock, like the decoder, answers the last
        # of them, and a translation that merges them answers their first result.
        assert want == "tool said: rainy"
        want = "tool said: sunny"
    assert anthropic_text(base, f"{provider}/echo-model", messages, **kw) == want
    assert anthropic_text(base, f"{provider}/echo-model", messages, stream=True, **kw) == want


# Gemini client ----------------------------------------------------------------------------------


def genai_text(base, model, contents, **config):
    from google import genai
    from google.genai import types

    c = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=30_000)
    )
    tools = [types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER)])]
    cfg = types.GenerateContentConfig(tools=tools, **config)
    return c.models.generate_content(model=model, contents=contents, config=cfg).text


def genai_parallel_history():
    from google.genai import types

    call = lambda city: types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": city}))  # noqa: E731
    result = lambda r: types.Part(  # noqa: E731
        function_response=types.FunctionResponse(name="get_weather", response={"result": r})
    )
    return [
        types.Content(role="user", parts=[types.Part(text="weather in Paris and Rome?")]),
        types.Content(role="model", parts=[call("Paris"), call("Rome")]),
        types.Content(role="user", parts=[result("sunny"), result("rainy")]),
    ]


@pytest.mark.parametrize("provider", OTHERS["gemini"])
def test_gemini_parallel_function_responses_reach_every_format(base, provider):
    contents = genai_parallel_history()
    want = genai_text(base, "gemini/echo-model", contents)
    assert genai_text(base, f"{provider}/echo-model", contents) == want


@pytest.mark.parametrize(
    "thinking",
    [
        {"thinking_budget": 0},
        {"thinking_budget": 512},
        {"thinking_budget": 2048},
    ],
    ids=["off", "small", "large"],
)
@pytest.mark.parametrize(
    "sampling", [{}, {"temperature": 0.3, "top_p": 0.5, "max_output_tokens": 1500}], ids=["plain", "tuned"]
)
@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_gemini_thinking_settings_reach_claude(base, thinking, sampling, provider):
    """Gemini takes any thinking budget with any temperature; Claude, on Anthropic and on
    Bedrock alike, takes a budget from 1,024 below max_tokens, and temperature 1 only, while
    thinking."""
    from google.genai import types

    config = {"thinking_config": types.ThinkingConfig(**thinking), **sampling}
    contents = [types.Content(role="user", parts=[types.Part(text="hello there")])]
    # A Claude id: Bedrock sends thinking to Claude only.
    assert genai_text(base, f"{provider}/claude-echo-model", contents, **config) == "echo: hello there"


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_is_not_sent_to_bedrock_models_other_than_claude(base, stream):
    """`additionalModelRequestFields.thinking` is Claude's: Nova, Llama and the rest refuse the
    key (400 "extraneous key [thinking] is not permitted", as the mock does), so a client asking
    for thinking got that 400 instead of an answer."""
    kw = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    messages = [{"role": "user", "content": "hello there"}]
    got = anthropic_text(base, "bedrock/amazon.nova-pro-v1:0", messages, stream=stream, **kw)
    assert got == "echo: hello there"


@pytest.mark.parametrize("client", ["openai", "anthropic"])
def test_text_beside_tool_calls_reaches_cohere_as_the_tool_plan(base, client):
    """Cohere refuses text content beside `tool_calls` (400 "... use 'tool_plan'", and so does
    the mock): a calling turn's text, from any format, is its tool plan there."""
    if client == "openai":
        messages = OPENAI_HISTORIES["calls_answer_question"][:4]
        report = openai_text(base, "cohere/inspect-model", messages, tools=OPENAI_TOOLS)
    else:
        messages = ANTHROPIC_HISTORIES["results_in_separate_messages"]
        report = anthropic_text(base, "cohere/inspect-model", messages)
    assert "tool_plan" in extras(report), report


# Cohere client ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", OTHERS["cohere"])
def test_cohere_tool_plan_history_reaches_every_format(base, provider):
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    messages = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "assistant",
            "tool_plan": "I will look both up.",
            "tool_calls": [
                {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": f'{{"city":"{i}"}}'}}
                for i in ("c_a", "c_b")
            ],
        },
        {"role": "tool", "tool_call_id": "c_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c_b", "content": "rainy"},
    ]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
    text = lambda m: c.chat(model=m, messages=messages, tools=tools).message.content[0].text  # noqa: E731
    assert text(f"{provider}/echo-model") == text("cohere/echo-model")


# OpenAI reasoning settings to Anthropic ----------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"reasoning_effort": "high", "temperature": 0.5},
        {"reasoning_effort": "high", "tool_choice": "required"},
        {"reasoning_effort": "low", "max_tokens": 1500, "extra_body": {"top_k": 5}},
    ],
    ids=["temperature", "forced_tool", "top_k"],
)
def test_openai_reasoning_settings_reach_anthropic(base, settings):
    messages = [{"role": "user", "content": "hello there"}]
    assert openai_text(base, "anthropic/echo-model", messages, tools=OPENAI_TOOLS, **settings) == "echo: hello there"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_agent_loop_with_reasoning_effort_reaches_anthropic(base, stream):
    """An OpenAI agent with `reasoning_effort` in a tool loop: with thinking on, Anthropic wants
    the loop's assistant turn to open with its signed thinking, which an OpenAI client never has
    (the mock refuses it as the API does). The request goes without thinking instead."""
    messages = [
        {"role": "user", "content": "weather?"},
        openai_calls("call_a"),
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    ]
    text = openai_text(base, "anthropic/echo-model", messages, stream, tools=OPENAI_TOOLS, reasoning_effort="high")
    assert text == "tool said: sunny"


def test_anthropic_agent_loop_with_its_own_thinking_keeps_thinking(base):
    """Anthropic's own client sends its signed thinking back: thinking stays on (the inspect
    scenario would not see the difference, so the mock's thinking limits are what is checked:
    a budget over max_tokens is still refused, proving thinking reached the mock)."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should look.", "signature": MOCK_CLAUDE_SIG},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
    ]
    tools = [{"name": "get_weather", "input_schema": WEATHER}]
    r = c.messages.create(
        model="anthropic/echo-model",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=messages,
        tools=tools,
    )
    assert r.content[-1].text == "tool said: sunny"
    # The same loop without its thinking block is refused by Anthropic itself (the passthrough
    # relays the client's own request unchanged).
    messages[1]["content"] = messages[1]["content"][1:]
    with pytest.raises(anthropic.BadRequestError) as e:
        c.messages.create(
            model="anthropic/echo-model",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=messages,
            tools=tools,
        )
    assert "must start with a thinking block" in str(e.value)


def test_gemini_thinking_off_reaches_cohere_as_disabled(base):
    """A zero budget is Gemini's "no thinking". Cohere takes only a positive `token_budget` (the
    mock refuses 0, as the SDK's type says the API does) and turns thinking off with
    `{"type": "disabled"}`, which the mock keeps as a raw extra (an enabled one is not)."""
    from google.genai import types

    contents = [types.Content(role="user", parts=[types.Part(text="hello there")])]
    for budget, disabled in [(0, True), (512, False)]:
        config = {"thinking_config": types.ThinkingConfig(thinking_budget=budget)}
        assert genai_text(base, "cohere/echo-model", contents, **config) == "echo: hello there"
        report = genai_text(base, "cohere/inspect-model", contents, **config)
        assert ("thinking" in extras(report)) == disabled, (budget, report)


# Thinking-signature provenance --------------------------------------------------------------------
# Each family's mock signs its thinking with its own token and refuses any other (as Anthropic's
# "Invalid `signature` in `thinking` block" and Gemini's "Thought signature is not valid" do), so a
# history carrying one family's token to another passes only when Sluice drops it there.

@pytest.mark.parametrize("stream", [False, True])
def test_gemini_made_thinking_through_an_anthropic_client_continues_on_both_families(base, stream):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    first = [{"role": "user", "content": "hello there"}]
    if stream:
        with c.messages.stream(model="gemini/reasoning-model", max_tokens=1024, messages=first) as s:
            msg = s.get_final_message()
    else:
        msg = c.messages.create(model="gemini/reasoning-model", max_tokens=1024, messages=first)
    thinking = [b for b in msg.content if b.type == "thinking"]
    assert len(thinking) == 1, msg.content
    # Marked as Gemini's: an Anthropic client's history is not Claude's to verify.
    assert thinking[0].signature == "slcG" + MOCK_GEMINI_SIG
    history = [*first, {"role": "assistant", "content": [b.model_dump() for b in msg.content]}]
    history.append({"role": "user", "content": "and again"})
    # Claude (on Anthropic itself too, the client's own format) drops Gemini's token; Gemini gets
    # it back bare (its mock refuses any other).
    for provider in ["anthropic", "bedrock", "gemini"]:
        r = c.messages.create(model=f"{provider}/echo-model", max_tokens=1024, messages=history)
        assert r.content[-1].text == "echo: and again", provider


def test_claude_made_thinking_through_a_gemini_client_continues_on_both_families(base):
    import base64

    from google import genai
    from google.genai import types

    c = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=30_000)
    )
    first = [types.Content(role="user", parts=[types.Part(text="hello there")])]
    r = c.models.generate_content(model="anthropic/reasoning-model", contents=first)
    content = r.candidates[0].content
    thoughts = [p for p in content.parts if p.thought]
    assert thoughts and thoughts[0].thought_signature, content
    # Marked as Claude's, and still base64 for the SDK (which holds it as bytes).
    assert base64.b64encode(thoughts[0].thought_signature).decode() == "slcC" + MOCK_CLAUDE_SIG
    history = [*first, content, types.Content(role="user", parts=[types.Part(text="and again")])]
    # Both Claude upstreams get the token bare (their mocks refuse any other); Gemini itself, the
    # client's own format, gets the thought without Claude's token.
    for provider in ["anthropic", "bedrock", "gemini"]:
        got = c.models.generate_content(model=f"{provider}/echo-model", contents=history)
        assert got.text == "echo: and again", provider


def test_a_gemini_client_keeps_gemini_made_thinking_unmarked(base):
    """Same family both sides: the token goes out and comes back as Gemini made it."""
    from google import genai
    from google.genai import types

    c = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=30_000)
    )
    first = [types.Content(role="user", parts=[types.Part(text="hello there")])]
    r = c.models.generate_content(model="gemini/reasoning-model", contents=first)
    content = r.candidates[0].content
    thought = next(p for p in content.parts if p.thought)
    import base64

    assert base64.b64encode(thought.thought_signature).decode() == MOCK_GEMINI_SIG
    history = [*first, content, types.Content(role="user", parts=[types.Part(text="and again")])]
    assert c.models.generate_content(model="gemini/echo-model", contents=history).text == "echo: and again"


def test_claude_made_thinking_from_an_anthropic_client_continues_on_gemini(base):
    """An Anthropic client's own (bare) Claude token is not sent to Gemini, which would refuse it."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    first = [{"role": "user", "content": "hello there"}]
    msg = c.messages.create(model="anthropic/reasoning-model", max_tokens=1024, messages=first)
    assert msg.content[0].signature == MOCK_CLAUDE_SIG
    history = [*first, {"role": "assistant", "content": [b.model_dump() for b in msg.content]}]
    history.append({"role": "user", "content": "and again"})
    for provider in ["gemini", "bedrock"]:
        r = c.messages.create(model=f"{provider}/echo-model", max_tokens=1024, messages=history)
        assert r.content[-1].text == "echo: and again", provider


MOCK_OPENAI_SIG = "gAAAAHNsdWljZS1tb2NrLW9wZW5haQ=="


@pytest.mark.parametrize("stream", [False, True])
def test_a_marked_own_family_token_goes_to_the_clients_own_provider_bare(base, stream):
    """A token of the client format's own family may come back marked (a history kept by a client
    of another format, then replayed): the provider of that format gets it bare, as it made it, so
    a thinking tool loop keeps its signed thinking (the mock refuses a marked token, as a real API
    refuses any token it did not make, and a loop without its thinking)."""
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should look.", "signature": "slcC" + MOCK_CLAUDE_SIG},
                tool_use("toolu_a"),
            ],
        },
        {"role": "user", "content": [tool_result("toolu_a", "sunny")]},
    ]
    kw = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert anthropic_text(base, "anthropic/echo-model", messages, stream, **kw) == "tool said: sunny"


def test_a_gemini_client_replaying_marked_tokens_to_gemini(base):
    """A Gemini thought signed by Gemini but marked, and one signed by Claude: Gemini gets its
    own bare and the other as an unsigned thought."""
    import base64

    from google.genai import types

    def thought(text, token):
        return types.Part(text=text, thought=True, thought_signature=base64.b64decode(token))

    contents = [
        types.Content(role="user", parts=[types.Part(text="hello there")]),
        types.Content(role="model", parts=[thought("mine", "slcG" + MOCK_GEMINI_SIG), types.Part(text="hi")]),
        types.Content(role="user", parts=[types.Part(text="and again")]),
    ]
    assert genai_text(base, "gemini/echo-model", contents) == "echo: and again"
    contents[1].parts.insert(0, thought("claude's", "slcC" + MOCK_CLAUDE_SIG))
    assert genai_text(base, "gemini/echo-model", contents) == "echo: and again"


def test_claude_made_reasoning_through_a_responses_client_continues_on_openai(base):
    """A Responses client's reasoning items from Claude carry Claude's token (marked): OpenAI's
    Responses API, reached by passthrough, cannot decrypt it and refuses the request, so the item is
    left out there; a marked OpenAI token goes bare."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    first = c.responses.create(model="anthropic/reasoning-model", input="hello there")
    reasoning = [o for o in first.output if o.type == "reasoning"]
    assert reasoning and all(r.encrypted_content.startswith("slcC") for r in reasoning), first.output
    history = [
        {"role": "user", "content": "hello there"},
        *[o.model_dump(exclude_none=True) for o in first.output],
        {"role": "user", "content": "and again"},
    ]
    assert c.responses.create(model="openai/echo-model", input=history).output_text == "echo: and again"
    own = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "mine"}],
        "encrypted_content": "slcO" + MOCK_OPENAI_SIG,
    }
    history.insert(1, own)
    assert c.responses.create(model="openai/echo-model", input=history).output_text == "echo: and again"


# Failed tool results -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "cohere", "anthropic", "bedrock", "gemini"])
def test_a_failed_tool_result_reaches_every_format_as_a_failure(base, provider):
    """Anthropic's `is_error`: formats with a flag of their own (Bedrock `status`, Gemini
    `response.error`) keep it; OpenAI and Cohere tool messages have none, so the text says it."""
    messages = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": [tool_use("toolu_a"), tool_use("toolu_b")]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "timeout", "is_error": True},
                tool_result("toolu_b", "sunny"),
            ],
        },
    ]
    want = "tool said: Error: timeout" if provider in ("openai", "cohere") else "tool said: timeout"
    assert anthropic_text(base, f"{provider}/echo-model", messages) == want
    # A successful result is as it was.
    messages[2]["content"] = [tool_result("toolu_a", "sunny"), tool_result("toolu_b", "rainy")]
    assert anthropic_text(base, f"{provider}/echo-model", messages) == "tool said: sunny"


def test_a_gemini_function_error_reaches_openai_as_a_failure(base):
    from google.genai import types

    call = types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"}))
    failed = types.Part(function_response=types.FunctionResponse(name="get_weather", response={"error": "timeout"}))
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(role="model", parts=[call]),
        types.Content(role="user", parts=[failed]),
    ]
    assert genai_text(base, "openai/echo-model", contents) == "tool said: Error: timeout"
    assert genai_text(base, "anthropic/echo-model", contents) == "tool said: timeout"


@pytest.mark.parametrize("target", ["bedrock/anthropic.claude-echo-model", "gemini/echo-model"])
def test_gemini_made_reasoning_through_a_bedrock_client_continues_on_both_families(base, target):
    """A Converse client's history with Gemini's (marked) token: Claude on Bedrock, the client's
    own format, gets the turn without it; Gemini gets it bare."""
    from conftest import bedrock_runtime

    c = bedrock_runtime(f"{base}/bedrock")
    first = [{"role": "user", "content": [{"text": "hello there"}]}]
    r = c.converse(modelId="gemini/reasoning-model", messages=first)
    turn = r["output"]["message"]
    signature = turn["content"][0]["reasoningContent"]["reasoningText"]["signature"]
    assert signature == "slcG" + MOCK_GEMINI_SIG
    history = [*first, turn, {"role": "user", "content": [{"text": "and again"}]}]
    got = c.converse(modelId=target, messages=history)
    assert got["output"]["message"]["content"][-1]["text"] == "echo: and again"
