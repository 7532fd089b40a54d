"""One format-specific feature per SDK: fields that only one format has travel as raw extras and
reach an upstream of that same format intact, are left out for other formats, or, when leaving
them out would change the answer's meaning, are refused with a 400 naming the field.

The mock's `inspect` scenario answers with the extra field names and the response format it
decoded, so the test sees exactly what reached the upstream.
"""

from __future__ import annotations

import pytest

from test_sdk_matrix import ADAPTERS  # noqa: F401  (same client set-up as the matrix)


@pytest.fixture(scope="module")
def base(sluice):
    return sluice.base


def inspect_of(text: str) -> tuple[list[str], str]:
    extras, fmt, *_ = text.split("; ")
    names = extras.removeprefix("extras: ")
    return (names.split(",") if names else []), fmt.removeprefix("response_format: ")


def strict_of(text: str) -> list[str]:
    """The tools the upstream received marked strict (the `inspect` report's last part)."""
    for part in text.split("; ")[2:]:
        if part.startswith("strict: "):
            return part.removeprefix("strict: ").split(",")
    return []


# Anthropic: prompt caching (`cache_control`) ------------------------------------------------------


def anthropic_cached(base, provider):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    r = c.messages.create(
        model=f"{provider}/inspect-model",
        max_tokens=50,
        system=[{"type": "text", "text": "a long system prompt", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "hi"}],
    )
    return inspect_of(r.content[0].text)


def test_anthropic_cache_control_reaches_anthropic_intact(base):
    names, _ = anthropic_cached(base, "anthropic")
    assert "cache_control" in names


def test_anthropic_cache_control_becomes_a_bedrock_cache_point(base):
    names, _ = anthropic_cached(base, "bedrock")
    assert "cachePoint" in names


@pytest.mark.parametrize("provider", ["anthropic", "openai", "gemini", "cohere"])
def test_bedrock_cache_points_become_anthropic_cache_control(base, provider):
    """Converse marks a cached prefix with a `cachePoint` block after it; Anthropic with
    `cache_control` on the block it ends (Bedrock's caching on Claude is Anthropic's). Before,
    they were dropped: the answer the same, every call billed in full. Formats without a
    per-block cache mark get none."""
    from conftest import bedrock_runtime

    c = bedrock_runtime(f"{base}/bedrock")
    point = {"cachePoint": {"type": "default"}}
    r = c.converse(
        modelId=f"{provider}/inspect-model",
        system=[{"text": "A long system prompt."}, point],
        messages=[{"role": "user", "content": [{"text": "A long document."}, point, {"text": "hi"}]}],
        toolConfig={"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}, point]},
    )
    names, _ = inspect_of(r["output"]["message"]["content"][0]["text"])
    assert ("cache_control" in names) == (provider == "anthropic"), names
    assert "cachePoint" not in names


@pytest.mark.parametrize("provider", ["openai", "gemini", "cohere"])
def test_anthropic_cache_control_is_not_sent_to_other_formats(base, provider):
    names, _ = anthropic_cached(base, provider)
    assert "cache_control" not in names


@pytest.mark.parametrize("model, sent", [("anthropic.claude-inspect", True), ("amazon.nova-inspect", False)])
def test_anthropic_betas_reach_claude_on_bedrock(base, model, sent):
    """`betas=[...]` (the `anthropic-beta` header) turns Claude features on; Converse takes them in
    `additionalModelRequestFields`, and they were not sent there. Other models refuse fields they
    do not know, so they get none."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    r = c.beta.messages.create(
        model=f"bedrock/{model}",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        betas=["context-1m-2025-08-07"],
    )
    names, _ = inspect_of(r.content[0].text)
    assert ("additionalModelRequestFields" in names) == sent, names


# OpenAI: structured output (`response_format`) ----------------------------------------------------

SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "weather",
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("provider", ["openai", "gemini", "cohere", "bedrock", "anthropic"])
def test_openai_json_schema_reaches_formats_that_have_it(base, provider):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    r = c.chat.completions.create(
        model=f"{provider}/inspect-model", messages=[{"role": "user", "content": "hi"}], response_format=SCHEMA
    )
    _, fmt = inspect_of(r.choices[0].message.content)
    assert fmt == "json_schema"


@pytest.mark.parametrize("provider", ["openai", "gemini", "cohere", "bedrock", "anthropic"])
def test_openai_parse_gives_the_structured_answer(base, provider):
    """`chat.completions.parse` and `.stream` with a Pydantic `response_format`: `verbatim-model`
    answers with the user's JSON document, as a model held to the schema answers."""
    import openai
    import pydantic

    class Forecast(pydantic.BaseModel):
        city: str
        days: list[int]

    want = Forecast(city="Paris", days=[1, 2])
    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    kw = dict(
        model=f"{provider}/verbatim-model",
        messages=[{"role": "user", "content": want.model_dump_json()}],
        response_format=Forecast,
    )
    assert c.chat.completions.parse(**kw).choices[0].message.parsed == want
    with c.chat.completions.stream(**kw) as s:
        for _ in s:
            pass
        assert s.get_final_completion().choices[0].message.parsed == want


@pytest.mark.parametrize("provider", ["openai", "gemini", "cohere", "bedrock", "anthropic"])
def test_openai_system_prompt_alone_and_hot_temperature_reach_every_format(base, provider):
    """OpenAI answers a conversation of only a system prompt, at a temperature up to 2; the
    mock refuses no turns and a temperature above 1 where the real API does (Anthropic,
    Converse, Gemini's no contents), so the translation must fit them."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    r = c.chat.completions.create(
        model=f"{provider}/m", messages=[{"role": "system", "content": "Greet the user."}], temperature=1.5
    )
    assert r.choices[0].message.content


def test_openai_json_object_to_anthropic_is_refused_by_name(base):
    """Anthropic's structured outputs need a schema: a bare JSON mode has no form there."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(
            model="anthropic/inspect-model",
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_object"},
        )
    assert "response_format" in str(e.value)
    assert e.value.param == "response_format"  # what the SDK gives callers, as OpenAI fills it


@pytest.mark.parametrize("provider", ["anthropic", "openai", "gemini", "bedrock", "cohere"])
def test_anthropic_structured_output_reaches_every_format(base, provider):
    """An Anthropic client's `output_config.format` (structured outputs) reaches each upstream
    as that format's own schema field, so the answer is constrained there too."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    r = c.messages.create(
        model=f"{provider}/inspect-model",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA["json_schema"]["schema"]}}},
    )
    _, fmt = inspect_of(r.content[0].text)
    assert fmt == "json_schema"


# Gemini: safety settings ------------------------------------------------------------------------


@pytest.mark.parametrize("provider,expected", [("gemini", True), ("openai", False), ("anthropic", False)])
def test_gemini_safety_settings(base, provider, expected):
    from google import genai
    from google.genai import types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    cfg = types.GenerateContentConfig(
        safety_settings=[
            types.SafetySetting(
                category=types.HarmCategory.HARM_CATEGORY_HARASSMENT, threshold=types.HarmBlockThreshold.BLOCK_NONE
            )
        ]
    )
    r = c.models.generate_content(model=f"{provider}/inspect-model", contents="hi", config=cfg)
    names, _ = inspect_of(r.text)
    assert ("safetySettings" in names) == expected


@pytest.mark.parametrize("provider", ["openai", "anthropic", "cohere"])
def test_gemini_candidate_count_above_one_is_refused_by_name(base, provider):
    # Other formats answer with one candidate: two asked for must not come back as one.
    from google import genai
    from google.genai import errors, types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    with pytest.raises(errors.ClientError) as e:
        c.models.generate_content(
            model=f"{provider}/inspect-model", contents="hi", config=types.GenerateContentConfig(candidate_count=2)
        )
    assert e.value.code == 400
    assert "candidateCount" in str(e.value)


# Bedrock: guardrails ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider,expected", [("bedrock", True), ("openai", False), ("cohere", False)])
def test_bedrock_guardrail_config(base, provider, expected):
    from conftest import bedrock_runtime

    c = bedrock_runtime(f"{base}/bedrock")
    r = c.converse(
        modelId=f"{provider}/inspect-model",
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        guardrailConfig={"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
    )
    names, _ = inspect_of(r["output"]["message"]["content"][0]["text"])
    assert ("guardrailConfig" in names) == expected


# Cohere: safety mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider,expected", [("cohere", True), ("openai", False), ("gemini", False)])
def test_cohere_safety_mode(base, provider, expected):
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    r = c.chat(model=f"{provider}/inspect-model", messages=[{"role": "user", "content": "hi"}], safety_mode="STRICT")
    names, _ = inspect_of(r.message.content[0].text)
    assert ("safety_mode" in names) == expected


# Cohere: grounding documents ----------------------------------------------------------------------
# Content, not a setting: a model without them answers ungrounded, so other formats refuse by name.


DOCUMENTS = [{"id": "d1", "data": {"text": "Paris is in France"}}]


def test_cohere_documents_reach_cohere(base):
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    r = c.chat(model="cohere/inspect-model", messages=[{"role": "user", "content": "where?"}], documents=DOCUMENTS)
    names, _ = inspect_of(r.message.content[0].text)
    assert "documents" in names


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock"])
def test_cohere_documents_to_other_formats_are_refused_by_name(base, provider):
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    with pytest.raises(cohere.errors.BadRequestError) as e:
        c.chat(model=f"{provider}/inspect-model", messages=[{"role": "user", "content": "where?"}], documents=DOCUMENTS)
    assert "documents" in str(e.value.body)


@pytest.mark.parametrize(
    "message, field",
    [
        ({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": 5}]}, "messages[1].content[1]"),
        ({"role": "user", "content": 5}, "messages[1].content"),
        ({"role": "assistant", "tool_calls": [{"id": 7, "type": "function"}]}, "messages[1].tool_calls[0]"),
    ],
)
def test_cohere_malformed_messages_are_refused_by_name(base, message, field):
    """Messages are read in one pass; one it refuses is named down to the field and item."""
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    with pytest.raises(cohere.errors.BadRequestError) as e:
        c.chat(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}, message])
    assert e.value.body["message"].startswith(f"{field}: "), e.value.body


# Anthropic: documents (PDF) -----------------------------------------------------------------------

# Content every format but Cohere carries in a message: the mock's `document` scenario counts the
# documents that arrived.


def tiny_pdf() -> str:
    """Base64 of a minimal valid one-page PDF (objects, xref offsets and trailer computed here)."""
    import base64

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return base64.b64encode(out).decode()


def anthropic_pdf(base, provider):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    return c.messages.create(
        model=f"{provider}/document-model",
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": tiny_pdf()},
                        "title": "tiny.pdf",
                    },
                    {"type": "text", "text": "What is in this file?"},
                ],
            }
        ],
    )


@pytest.mark.parametrize("provider", ["anthropic", "openai", "gemini", "bedrock"])
def test_anthropic_pdf_document_reaches_formats_that_have_documents(base, provider):
    r = anthropic_pdf(base, provider)
    assert r.content[0].text == "I see 1 document"


def test_anthropic_pdf_document_to_cohere_is_refused_by_name(base):
    import anthropic

    with pytest.raises(anthropic.BadRequestError) as e:
        anthropic_pdf(base, "cohere")
    # The field is named, and the refusal is Cohere's (the Anthropic side takes documents).
    body = str(e.value.body)
    assert "messages[0].content[0]" in body and "Cohere" in body, body


# Bedrock: tool results Converse takes -------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_empty_tool_output_to_bedrock_is_answered(base, stream):
    """A tool that printed nothing (OpenAI tool message `""`) used to reach Converse as a blank
    text block, which Bedrock (and the mock, which enforces its content rules) refuses with a 400.
    """
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    messages = [
        {"role": "user", "content": "run it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "run", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": ""},
    ]
    if stream:
        text = "".join(
            ch.choices[0].delta.content or ""
            for ch in c.chat.completions.create(model="bedrock/echo-model", messages=messages, stream=True)
            if ch.choices
        )
    else:
        text = c.chat.completions.create(model="bedrock/echo-model", messages=messages).choices[0].message.content
    # The mock answers a tool turn with what the tool said: an empty object, Converse's "nothing".
    assert text == "tool said: {}"


# Call ids another provider made ------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "openai", "gemini", "cohere"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("call_id", ["functions.get_weather:0", "call_0__ts__" + "Q" * 300])
def test_foreign_call_ids_reach_every_provider(base, provider, stream, call_id):
    """A history whose call ids another provider made (an OpenAI-compatible server's
    `functions.get_weather:0`, a Gemini id carrying its thought signature) used to be refused by
    Anthropic and Bedrock, which take only `[A-Za-z0-9_-]` up to 64 characters (the mock checks
    as they do). The gateway gives them ids that fit, the same for a call and its result."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "sunny"},
    ]
    if stream:
        text = "".join(
            ch.choices[0].delta.content or ""
            for ch in c.chat.completions.create(model=f"{provider}/echo-model", messages=messages, stream=True)
            if ch.choices
        )
    else:
        text = c.chat.completions.create(model=f"{provider}/echo-model", messages=messages).choices[0].message.content
    assert text == "tool said: sunny"


# Content-bearing settings: refused by name where the upstream has no such thing -----------------


MCP = [{"type": "url", "url": "https://mcp.example/sse", "name": "docs"}]


def test_anthropic_mcp_servers_reach_anthropic(base):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    r = c.messages.create(
        model="anthropic/inspect-model",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"mcp_servers": MCP},
    )
    names, _ = inspect_of(r.content[0].text)
    assert "mcp_servers" in names


@pytest.mark.parametrize("provider", ["openai", "gemini", "bedrock", "cohere"])
def test_anthropic_mcp_servers_to_other_formats_are_refused_by_name(base, provider):
    """Anthropic calls an MCP server's tools itself; without them the model has no such tools,
    so the request is refused rather than answered as if they were not asked for."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(anthropic.BadRequestError) as e:
        c.messages.create(
            model=f"{provider}/inspect-model",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"mcp_servers": MCP},
        )
    assert "mcp_servers" in str(e.value)


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock", "cohere"])
@pytest.mark.parametrize(
    "field", [{"web_search_options": {}}, {"audio": {"voice": "alloy", "format": "wav"}, "modalities": ["text", "audio"]}]
)
def test_openai_search_and_audio_to_other_formats_are_refused_by_name(base, provider, field):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(
            model=f"{provider}/inspect-model", messages=[{"role": "user", "content": "hi"}], extra_body=field
        )
    name = "web_search_options" if "web_search_options" in field else "audio"
    assert name in str(e.value)
    assert e.value.param == name


LEGACY_FUNCTION = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock", "cohere"])
def test_openai_legacy_functions_to_other_formats_are_refused_by_name(base, provider):
    """The deprecated `functions` have no translation here: dropped, the model would answer as if
    no function existed (it did, with a 200, before). `tools` is the way, and the error says so."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(
            model=f"{provider}/tool-model",
            messages=[{"role": "user", "content": "weather?"}],
            functions=[LEGACY_FUNCTION],
            function_call="auto",
        )
    assert e.value.param == "functions"
    assert "`tools`" in str(e.value)
    # The same function as a tool is answered with a call.
    r = c.chat.completions.create(
        model=f"{provider}/tool-model",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[{"type": "function", "function": LEGACY_FUNCTION}],
    )
    assert r.choices[0].finish_reason == "tool_calls"


def test_openai_legacy_functions_reach_openai(base):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    r = c.chat.completions.create(
        model="openai/inspect-model",
        messages=[{"role": "user", "content": "hi"}],
        functions=[LEGACY_FUNCTION],
    )
    assert "functions" in r.choices[0].message.content


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock", "cohere"])
def test_openai_logit_bias_reaches_openai_and_is_refused_by_name_elsewhere(base, provider):
    """Biases are keyed by OpenAI token ids, which no other tokenizer shares: dropped, a token the
    client banned could come back (it did, with a 200, before). An empty map asks for nothing."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    ask = dict(model=f"{provider}/inspect-model", messages=[{"role": "user", "content": "hi"}])
    assert c.chat.completions.create(**ask, logit_bias={}).choices[0].finish_reason == "stop"
    if provider == "openai":
        r = c.chat.completions.create(**ask, logit_bias={"50256": -100})
        assert "logit_bias" in r.choices[0].message.content
        return
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(**ask, logit_bias={"50256": -100})
    assert e.value.param == "logit_bias" and "token ids" in str(e.value)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "bedrock", "cohere"])
@pytest.mark.parametrize("tool", ["google_search", "code_execution", "url_context"])
def test_gemini_built_in_tools_to_other_formats_are_refused_by_name(base, provider, tool):
    """Gemini runs these tools itself (as Anthropic runs its server tools, which are refused the
    same way): dropped, the answer would come without the search or the code run."""
    from google import genai
    from google.genai import errors, types

    built_in = {
        "google_search": types.Tool(google_search=types.GoogleSearch()),
        "code_execution": types.Tool(code_execution=types.ToolCodeExecution()),
        "url_context": types.Tool(url_context=types.UrlContext()),
    }[tool]
    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    with pytest.raises(errors.ClientError) as e:
        c.models.generate_content(
            model=f"{provider}/inspect-model", contents="hi", config=types.GenerateContentConfig(tools=[built_in])
        )
    assert e.value.code == 400
    assert "built-in tools" in str(e.value)


def test_gemini_built_in_tools_reach_gemini(base):
    from google import genai
    from google.genai import types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    r = c.models.generate_content(
        model="gemini/inspect-model",
        contents="hi",
        config=types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())]),
    )
    names, _ = inspect_of(r.text)
    assert "tools" in names


# Documents a tool returned ------------------------------------------------------------------------


def read_tool_returning_a_document(base, provider):
    """An Anthropic client's turn after a `read` tool returned a document (titled `notes`)."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    doc = {"type": "document", "title": "notes", "source": {"type": "text", "media_type": "text/plain", "data": "hi"}}
    return c.messages.create(
        model=f"{provider}/echo-model",
        max_tokens=50,
        tools=[{"name": "read", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "read it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [doc]}]},
        ],
    )


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "gemini"])
def test_tool_result_documents_reach_formats_that_have_them(base, provider):
    """A tool that returns a document (Anthropic `document` blocks in a `tool_result`) used to be
    refused for every other format; Bedrock's toolResult and Gemini's function-response parts
    carry documents too."""
    text = read_tool_returning_a_document(base, provider).content[0].text
    assert text.startswith("tool said:") and "[document" in text, text
    if provider != "gemini":  # Gemini's inlineData has no name
        assert "[document notes]" in text, text


@pytest.mark.parametrize("provider", ["openai", "cohere"])
def test_tool_result_documents_to_formats_without_them_are_refused_by_name(base, provider):
    """Cohere chat messages take no files; OpenAI Chat takes inline PDF only, not this text."""
    import anthropic

    with pytest.raises(anthropic.BadRequestError) as e:
        read_tool_returning_a_document(base, provider)
    assert "messages[2].content[0].content[0]" in str(e.value)


# Images a tool returned (computer use: a screenshot) ----------------------------------------------
# Anthropic, Bedrock and Gemini carry them in the tool result; OpenAI Chat and Cohere tool messages
# take text only, so the images follow them in a user message. The mock's `image-model` counts the
# images of the last user turn, its tool results' included, and `document-model` the documents.

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PDF_B64 = "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWlsZXIKPDw+PgolJUVPRgo="


def tool_returning(base, provider, model, *blocks, text=None):
    """An Anthropic client's turn after a `screenshot` tool returned `blocks` (and `text`), with
    the user's own question after the result."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    content = ([{"type": "text", "text": text}] if text else []) + list(blocks)
    return c.messages.create(
        model=f"{provider}/{model}",
        max_tokens=50,
        tools=[{"name": "screenshot", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "click the button"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": content},
                    {"type": "text", "text": "what do you see?"},
                ],
            },
        ],
    ).content[0].text


def png():
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}


@pytest.mark.parametrize("provider", ["openai", "cohere", "anthropic", "bedrock", "gemini"])
def test_tool_result_images_reach_every_format(base, provider):
    """Refused for OpenAI Chat and Cohere before; each image arrives once, for every format."""
    assert tool_returning(base, provider, "image-model", png(), text="clicked") == "I see 1 image"
    assert tool_returning(base, provider, "image-model", png(), png()) == "I see 2 images"


@pytest.mark.parametrize("provider", ["openai", "cohere"])
def test_tool_result_text_stays_in_the_tool_message(base, provider):
    # `tool said:` is the tool message's text: the result's own, or a note that the images follow.
    assert tool_returning(base, provider, "echo-model", png(), text="clicked") == "tool said: clicked"
    said = tool_returning(base, provider, "echo-model", png())
    assert said == "tool said: The result (1 image) follows in the next message.", said


def test_tool_result_pdfs_reach_openai_as_files(base):
    pdf = {"type": "document", "title": "report", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}}
    assert tool_returning(base, "openai", "document-model", pdf, png(), text="saved") == "I see 1 document"
    assert tool_returning(base, "openai", "image-model", pdf, png(), text="saved") == "I see 1 image"


# Strict tools: OpenAI `function.strict`, Anthropic and Bedrock `strict`, Cohere `strict_tools` ----
# A constraint on the call's arguments, carried to every format that has one; Gemini has none and
# gets the tool without it.

CLOSED = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def strict_tool_call(base, client, provider, schema=CLOSED) -> str:
    """One request with strict tools `get_weather` and `get_time` from `client`'s SDK: the text of
    the `inspect` answer."""
    model = f"{provider}/inspect-model"
    messages = [{"role": "user", "content": "weather?"}]
    names = ["get_weather", "get_time"]
    if client == "openai":
        import openai

        c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
        tools = [{"type": "function", "function": {"name": n, "parameters": schema, "strict": True}} for n in names]
        return c.chat.completions.create(model=model, messages=messages, tools=tools).choices[0].message.content
    if client == "anthropic":
        import anthropic

        c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
        tools = [{"name": n, "input_schema": schema, "strict": True} for n in names]
        return c.messages.create(model=model, max_tokens=50, messages=messages, tools=tools).content[0].text
    if client == "bedrock":
        from conftest import bedrock_runtime

        c = bedrock_runtime(f"{base}/bedrock")
        tools = [{"toolSpec": {"name": n, "inputSchema": {"json": schema}, "strict": True}} for n in names]
        r = c.converse(
            modelId=model,
            messages=[{"role": "user", "content": [{"text": "weather?"}]}],
            toolConfig={"tools": tools},
        )
        return r["output"]["message"]["content"][0]["text"]
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=30)
    tools = [{"type": "function", "function": {"name": n, "parameters": schema}} for n in names]
    return c.chat(model=model, messages=messages, tools=tools, strict_tools=True).message.content[0].text


@pytest.mark.parametrize("provider", ["openai", "anthropic", "bedrock", "cohere", "gemini"])
@pytest.mark.parametrize("client", ["openai", "anthropic", "bedrock", "cohere"])
def test_strict_tools_reach_every_format_that_has_them(base, client, provider):
    """A strict tool used to keep its flag only for an upstream of the client's own format (an
    OpenAI agent's strict tools reached Anthropic, Bedrock and Cohere unconstrained)."""
    text = strict_tool_call(base, client, provider)
    names, _ = inspect_of(text)
    assert "strict" not in names and "strict_tools" not in names, text
    expected = [] if provider == "gemini" else ["get_weather", "get_time"]
    assert strict_of(text) == expected, text


def test_cohere_strict_tools_with_an_open_schema_meet_openai_rules(base):
    """OpenAI's strict mode wants every object closed; Cohere's does not. The flag crosses, and
    the upstream's 400 (the mock refuses as OpenAI does) reaches the Cohere client."""
    import cohere

    with pytest.raises(cohere.errors.BadRequestError) as e:
        strict_tool_call(base, "cohere", "openai", schema={"type": "object", "properties": {"city": {"type": "string"}}})
    assert "additionalProperties" in str(e.value.body)


# Gemini: image and audio output -------------------------------------------------------------------
# What the answer is made of: another format answers in text, so it is refused rather than dropped.


def gemini_output_config(kind: str):
    from google.genai import types

    if kind == "image":
        return types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"])
    if kind == "audio":
        return types.GenerateContentConfig(response_modalities=["AUDIO"])
    if kind == "speech":
        voice = types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore"))
        return types.GenerateContentConfig(speech_config=types.SpeechConfig(voice_config=voice))
    return types.GenerateContentConfig(response_modalities=["TEXT"])


@pytest.mark.parametrize("provider", ["openai", "anthropic", "bedrock", "cohere"])
@pytest.mark.parametrize("kind", ["image", "audio", "speech"])
def test_gemini_image_or_audio_output_to_other_formats_is_refused_by_name(base, provider, kind):
    from google import genai
    from google.genai import errors, types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    with pytest.raises(errors.ClientError) as e:
        c.models.generate_content(model=f"{provider}/inspect-model", contents="hi", config=gemini_output_config(kind))
    assert e.value.code == 400
    field = "speechConfig" if kind == "speech" else "responseModalities"
    assert f"generationConfig.{field}" in str(e.value)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "bedrock", "cohere", "gemini"])
def test_gemini_text_output_passes_everywhere(base, provider):
    from google import genai
    from google.genai import types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    r = c.models.generate_content(model=f"{provider}/inspect-model", contents="hi", config=gemini_output_config("text"))
    names, _ = inspect_of(r.text)
    # Only a Gemini upstream gets the setting itself (inside the raw `generationConfig`).
    assert ("generationConfig" in names) == (provider == "gemini"), r.text


@pytest.mark.parametrize("provider", ["openai", "anthropic", "bedrock", "cohere"])
def test_gemini_enum_output_to_other_formats_is_refused_by_name(base, provider):
    """`text/x.enum` asks for one of the schema's values as bare text. No other format has that
    constraint: dropped (as it was), the model would answer freely."""
    from google import genai
    from google.genai import errors, types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    config = types.GenerateContentConfig(
        response_mime_type="text/x.enum", response_schema={"type": "STRING", "enum": ["yes", "no"]}
    )
    with pytest.raises(errors.ClientError) as e:
        c.models.generate_content(model=f"{provider}/inspect-model", contents="hi", config=config)
    assert e.value.code == 400
    assert "generationConfig.responseMimeType" in str(e.value)
    # A Gemini upstream takes it as sent.
    r = c.models.generate_content(model="gemini/inspect-model", contents="hi", config=config)
    assert "generationConfig" in inspect_of(r.text)[0]


def test_gemini_image_output_reaches_gemini(base):
    from google import genai
    from google.genai import types

    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta"))
    r = c.models.generate_content(model="gemini/inspect-model", contents="hi", config=gemini_output_config("image"))
    names, _ = inspect_of(r.text)
    assert "generationConfig" in names


# OpenAI: a named tool_choice ----------------------------------------------------------------------
# The mock calls the tool a request forces (it used to call the first tool whatever was named), so
# a translation that lost the name would show here.


def forced_call_names(base, provider, stream) -> list[str]:
    """The tools called when an OpenAI client forces `get_time`, listed after `get_weather`."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
        for n in ["get_weather", "get_time"]
    ]
    params = dict(
        model=f"{provider}/tool-model",
        messages=[{"role": "user", "content": "what time is it?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    if not stream:
        return [t.function.name for t in c.chat.completions.create(**params).choices[0].message.tool_calls]
    chunks = c.chat.completions.create(**params, stream=True)
    return [t.function.name for ch in chunks if ch.choices for t in ch.choices[0].delta.tool_calls or [] if t.function.name]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock"])
@pytest.mark.parametrize("stream", [False, True])
def test_openai_named_tool_choice_reaches_every_format_that_can_force_one(base, provider, stream):
    assert forced_call_names(base, provider, stream) == ["get_time"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_named_tool_choice_among_several_tools_reaches_cohere(base, stream):
    """Cohere forces only some tool (`REQUIRED`): it is offered just the named one."""
    assert forced_call_names(base, "cohere", stream) == ["get_time"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True])
def test_openai_parallel_tool_calls_off_reaches_formats_that_have_it(base, provider, stream):
    """`parallel_tool_calls: false` is Anthropic's `disable_parallel_tool_use`: the mock makes one
    call then (it made two whatever was asked, so losing the setting went unseen)."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    params = dict(
        model=f"{provider}/parallel-model",
        messages=[{"role": "user", "content": "weather in Paris and Rome?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        parallel_tool_calls=False,
    )
    if stream:
        chunks = c.chat.completions.create(**params, stream=True)
        ids = [t.id for ch in chunks if ch.choices for t in ch.choices[0].delta.tool_calls or [] if t.id]
    else:
        ids = [t.id for t in c.chat.completions.create(**params).choices[0].message.tool_calls]
    assert len(ids) == 1


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "gemini", "cohere", "openai"])
@pytest.mark.parametrize("media_type", ["image/jpg", "IMAGE/PNG"])
def test_openai_data_url_image_types_are_sent_as_registered(base, provider, media_type):
    """OpenAI takes `data:image/jpg;...` and any case; Anthropic's enum and Gemini do not (a 400,
    which the mock gives too)."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    url = f"data:{media_type};base64,iVBORw0KGgo="
    r = c.chat.completions.create(
        model=f"{provider}/image-model",
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}],
    )
    assert r.choices[0].message.content == "I see 1 image"


# A token limit of 0 ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["gemini", "cohere", "mock"])
def test_zero_max_tokens_is_refused_in_each_clients_shape(base, provider):
    """OpenAI and Anthropic refuse `max_tokens: 0` (OpenAI's Responses API any `max_output_tokens`
    below 16); Gemini and Cohere answered it with nothing.
    The gateway refuses it for every client, in that client's own error, whatever the provider."""
    import anthropic
    import cohere
    import openai

    model = f"{provider}/mock-model"
    msgs = [{"role": "user", "content": "hi"}]
    a = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(anthropic.BadRequestError) as e:
        a.messages.create(model=model, max_tokens=0, messages=msgs)
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in e.value.body["error"]["message"]
    o = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    for field in ["max_tokens", "max_completion_tokens"]:
        with pytest.raises(openai.BadRequestError) as e:
            o.chat.completions.create(model=model, messages=msgs, **{field: 0})
        assert e.value.param == field
    with pytest.raises(openai.BadRequestError) as e:
        o.responses.create(model=model, input="hi", max_output_tokens=0)
    assert e.value.param == "max_output_tokens"
    with pytest.raises(openai.BadRequestError) as e:
        o.responses.create(model=model, input="hi", max_output_tokens=15)
    assert e.value.param == "max_output_tokens"
    assert "Expected a value >= 16" in e.value.message
    co = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", max_retries=0, timeout=30)
    with pytest.raises(cohere.BadRequestError) as e:
        co.chat(model=model, messages=msgs, max_tokens=0)
    assert "max_tokens" in e.value.body["message"]


# Anthropic: a prefill (the last turn is the assistant's) -----------------------------------------


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "gemini", "openai", "cohere"])
def test_anthropic_prefill_goes_only_where_it_is_continued(base, provider):
    """Claude (on Anthropic or Bedrock) and Gemini go on from a final assistant turn; OpenAI and
    Cohere models answer it with a new turn, which the client would read after its prefill (a
    `{` and then a whole object). Those are refused by name rather than answered so."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    ask = dict(
        model=f"{provider}/mock-model",
        max_tokens=50,
        messages=[{"role": "user", "content": "a JSON object?"}, {"role": "assistant", "content": "{"}],
    )
    if provider in ("openai", "cohere"):
        with pytest.raises(anthropic.BadRequestError) as e:
            c.messages.create(**ask)
        assert "messages[1]" in str(e.value) and "prefill" in str(e.value)
    else:
        assert c.messages.create(**ask).content


# Anthropic: newer top-level fields ----------------------------------------------------------------


def anthropic_inspect(base, provider, **extra):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    r = c.messages.create(
        model=f"{provider}/inspect-model" if "." not in provider else f"bedrock/{provider}",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body=extra,
    )
    return inspect_of(r.content[0].text)[0]


AUTOMATIC_CACHE = {"cache_control": {"type": "ephemeral"}}
CONTEXT_EDITS = {"context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}}
SETTINGS = {"speed": "fast", "inference_geo": "us", "container": "container_011"}


def test_anthropic_top_level_fields_reach_anthropic(base):
    names = anthropic_inspect(base, "anthropic", **AUTOMATIC_CACHE, **CONTEXT_EDITS, **SETTINGS)
    assert {"cache_control", "context_management", "speed", "inference_geo", "container"} <= set(names)


def test_anthropic_automatic_caching_becomes_a_bedrock_cache_point(base):
    """A top-level `cache_control` caches up to the last cacheable block: for Converse, a
    `cachePoint` there. Before, it was dropped and every call billed in full."""
    assert "cachePoint" in anthropic_inspect(base, "bedrock", **AUTOMATIC_CACHE)


@pytest.mark.parametrize("model, sent", [("anthropic.claude-inspect", True), ("amazon.nova-inspect", False)])
def test_anthropic_context_management_reaches_claude_on_bedrock(base, model, sent):
    names = anthropic_inspect(base, model, **CONTEXT_EDITS)
    assert ("additionalModelRequestFields" in names) == sent, names


@pytest.mark.parametrize("provider", ["openai", "gemini", "cohere", "bedrock"])
def test_anthropic_settings_without_an_equivalent_are_left_out(base, provider):
    names = anthropic_inspect(base, provider, **AUTOMATIC_CACHE, **CONTEXT_EDITS, **SETTINGS)
    assert not {"cache_control", "context_management", "speed", "inference_geo", "container"} & set(names)


@pytest.mark.parametrize("provider", ["openai", "gemini", "cohere", "bedrock"])
def test_anthropic_container_skills_to_other_formats_are_refused_by_name(base, provider):
    import anthropic

    skills = {"container": {"skills": [{"type": "anthropic", "skill_id": "pptx", "version": "latest"}]}}
    with pytest.raises(anthropic.BadRequestError) as e:
        anthropic_inspect(base, provider, **skills)
    assert "container.skills" in str(e.value)


# Sampling bounds and the end user's id ----------------------------------------------------------
# The mock refuses what Cohere's API refuses (`p` 0.01 to 0.99, `k` to 500, penalties 0 to 1), so
# a translation that sent other formats' wider values as they are would fail here.


def test_openai_sampling_beyond_cohere_bounds_is_fitted_to_them(base):
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    r = c.chat.completions.create(
        model="cohere/m",
        messages=[{"role": "user", "content": "hi"}],
        top_p=1.0,
        presence_penalty=-0.5,
        frequency_penalty=1.5,
    )
    assert r.choices[0].message.content == "echo: hi"


def test_anthropic_top_k_beyond_cohere_bounds_is_fitted_to_them(base):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=30)
    r = c.messages.create(
        model="cohere/m",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"top_k": 1000, "top_p": 1.0},
    )
    assert r.content[0].text == "echo: hi"


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_openai_safety_identifier_is_the_end_users_id(base, provider):
    """`safety_identifier` (the SDK's successor of the deprecated `user`) is Anthropic's
    `metadata.user_id` too; OpenAI gets it under its own name."""
    import openai

    c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=30)
    r = c.chat.completions.create(
        model=f"{provider}/inspect-model", messages=[{"role": "user", "content": "hi"}], safety_identifier="end-user-7"
    )
    text = r.choices[0].message.content
    assert "; user: end-user-7" in text, text
    extras, _ = inspect_of(text)
    assert ("safety_identifier" in extras) == (provider == "openai"), extras
