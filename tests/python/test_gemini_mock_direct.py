"""The official `google-genai` SDK pointed straight at sluice-mock: proves the mock speaks Gemini.

Every SDK test runs against both API versions the SDK uses (`v1beta`: google-genai 1.x default,
`v1`: 3.x default). The mock's answers come from `sluice::mock::scenario` (chosen by model name).
"""

from __future__ import annotations

import base64

import pytest
from google import genai
from google.genai import errors, types

WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="Current weather for a city",
            parameters=types.Schema(
                type=types.Type.OBJECT,
                properties={"city": types.Schema(type=types.Type.STRING)},
                required=["city"],
            ),
        )
    ]
)
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module", params=["v1beta", "v1"])
def client(request, sluice_mock):
    c = genai.Client(
        api_key="x",
        http_options=types.HttpOptions(base_url=sluice_mock.base, api_version=request.param),
    )
    yield c
    c.close()


def test_simple_chat_with_system(client):
    resp = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="hello there mock",
        config=types.GenerateContentConfig(system_instruction="Be brief", temperature=0.2),
    )
    assert resp.text == "echo: hello there mock"
    cand = resp.candidates[0]
    assert cand.finish_reason == types.FinishReason.STOP
    assert cand.content.role == "model"
    assert resp.model_version == "gemini-2.5-flash"
    assert resp.response_id
    assert resp.usage_metadata.prompt_token_count == 5  # "Be brief" + "hello there mock"
    assert resp.usage_metadata.candidates_token_count == 4
    assert resp.usage_metadata.total_token_count == 9


def test_multi_turn(client):
    contents = [
        types.Content(role="user", parts=[types.Part(text="first")]),
        types.Content(role="model", parts=[types.Part(text="ignored reply")]),
        types.Content(role="user", parts=[types.Part(text="second   one")]),
    ]
    resp = client.models.generate_content(model="gemini-2.5-flash", contents=contents)
    assert resp.text == "echo: second   one"
    assert resp.usage_metadata.prompt_token_count == 1 + 2 + 2


def test_provider_prefixed_model(client):
    resp = client.models.generate_content(model="acme/some-model", contents="hi")
    assert resp.text == "echo: hi"
    assert resp.model_version == "acme/some-model"


def test_generation_config_stop_and_max_tokens(client):
    resp = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="alpha beta END gamma",
        config=types.GenerateContentConfig(
            stop_sequences=["END"], top_p=0.9, top_k=40, seed=7, max_output_tokens=64
        ),
    )
    assert resp.text == "echo: alpha beta "
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    resp = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="one two three four five",
        config=types.GenerateContentConfig(max_output_tokens=2),
    )
    assert resp.text == "echo: one"
    assert resp.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_tool_call(client):
    resp = client.models.generate_content(
        model="gemini-tool",
        contents="Weather in Paris?",
        config=types.GenerateContentConfig(
            tools=[WEATHER],
            tool_config=types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(mode="AUTO")
            ),
            automatic_function_calling=NO_AFC,
        ),
    )
    parts = resp.candidates[0].content.parts
    assert parts[0].text == "Let me check."
    calls = resp.function_calls
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert calls[0].args == {"city": "Paris"}
    # A tool-call turn ends with STOP in Gemini.
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP


def test_parallel_tool_calls(client):
    resp = client.models.generate_content(
        model="gemini-parallel",
        contents="Weather in Paris and Rome?",
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    calls = resp.function_calls
    assert [c.name for c in calls] == ["get_weather", "get_weather"]
    assert [c.args["city"] for c in calls] == ["Paris", "Rome"]


def test_tool_result_round_trip(client):
    first = client.models.generate_content(
        model="gemini-tool",
        contents="Weather in Paris?",
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    call = first.function_calls[0]
    contents = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
        first.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name=call.name, response={"result": "sunny"})],
        ),
    ]
    resp = client.models.generate_content(
        model="gemini-tool",
        contents=contents,
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    assert resp.text == "tool said: sunny"
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP


def test_images_by_url_and_base64(client):
    resp = client.models.generate_content(
        model="gemini-image",
        contents=[
            types.Part(text="What is in these?"),
            types.Part.from_bytes(data=PNG, mime_type="image/png"),
            types.Part.from_uri(file_uri="https://example.com/cat.jpg", mime_type="image/jpeg"),
        ],
    )
    assert resp.text == "I see 2 images"


def test_length_finish(client):
    resp = client.models.generate_content(model="gemini-length", contents="one two three four")
    assert resp.text == "echo: one two"
    assert resp.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_error_429_is_client_error(client):
    with pytest.raises(errors.ClientError) as ei:
        client.models.generate_content(model="gemini-error-429", contents="hi")
    assert ei.value.code == 429
    assert ei.value.status == "RESOURCE_EXHAUSTED"
    assert "429" in ei.value.message


def test_error_500_is_server_error(client):
    with pytest.raises(errors.ServerError) as ei:
        client.models.generate_content(model="gemini-error-500", contents="hi")
    assert ei.value.code == 500
    assert ei.value.status == "INTERNAL"


# ---- raw wire checks ---------------------------------------------------------------------------


def test_raw_snake_case_and_genai_prefix(sluice_mock, raw):
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "look"},
                    {"inline_data": {"mime_type": "image/png", "data": "iVBORw=="}},
                ],
            }
        ],
        "system_instruction": {"parts": [{"text": "Be brief"}]},
    }
    for path in (
        "/v1beta/models/gemini-image:generateContent",
        "/genai/v1beta/models/gemini-image:generateContent",
        "/v1beta1/models/gemini-image:generateContent",
    ):
        r = raw(sluice_mock.base, "POST", path, body)
        assert r.status == 200, r.body
        assert r.headers["content-type"].startswith("application/json")
        v = r.json()
        assert list(v) == ["candidates", "usageMetadata", "modelVersion", "responseId"]
        assert v["candidates"][0]["content"]["parts"] == [{"text": "I see 1 image"}]


def test_raw_stream_and_bad_body(sluice_mock, raw):
    r = raw(
        sluice_mock.base,
        "POST",
        "/v1beta/models/m:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.body.startswith(b"data: {") and r.body.endswith(b"\r\n\r\n")
    r = raw(sluice_mock.base, "POST", "/v1beta/models/m:streamGenerateContent?alt=sse", {"contents": "nope"})
    assert r.status == 400
    r = raw(sluice_mock.base, "POST", "/v1beta/models/m:generateContent", {"contents": "nope"})
    assert r.status == 400
    err = r.json()["error"]
    assert (err["code"], err["status"]) == (400, "INVALID_ARGUMENT")
    assert "contents" in err["message"]


def test_raw_empty_contents_is_400(sluice_mock, raw):
    # The SDK refuses `contents=[]` itself; a gateway's translation might still send it.
    r = raw(sluice_mock.base, "POST", "/v1beta/models/m:generateContent", {"contents": []})
    err = r.json()["error"]
    assert (r.status, err["status"]) == (400, "INVALID_ARGUMENT")
    assert "contents is not specified" in err["message"]


# ---- Vertex AI through the gateway -------------------------------------------------------------


@pytest.fixture(scope="module")
def vertex(sluice):
    # Express mode (an API key, no project): no Google credentials are looked up, and the SDK
    # calls `{base}/v1beta1/publishers/{publisher}/models/{model}:...` (PROTOCOLS 4.1).
    c = genai.Client(
        vertexai=True,
        api_key="k",
        http_options=types.HttpOptions(base_url=f"{sluice.base}/genai", timeout=30_000),
    )
    yield c
    c.close()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "cohere"])
def test_vertex_express_mode_through_the_gateway(vertex, provider):
    # `openai/gpt-4o-mini` goes out as publishers/openai/models/gpt-4o-mini: the gateway reads
    # the publisher back as the provider prefix.
    model = f"{provider}/gpt-4o-mini"
    resp = vertex.models.generate_content(model=model, contents="hello there mock")
    assert resp.text == "echo: hello there mock"
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    text = "".join(c.text or "" for c in vertex.models.generate_content_stream(model=model, contents="hello there"))
    assert text == "echo: hello there"


def test_vertex_regional_path_at_the_bare_route(sluice, raw):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    for path in (
        "/v1beta1/projects/p/locations/us-central1/publishers/google/models/openai/gpt-4o-mini:generateContent",
        "/genai/v1/projects/p/locations/global/publishers/google/models/mock-model:generateContent",
    ):
        r = raw(sluice.base, "POST", path, body)
        assert r.status == 200, r.body
        assert r.json()["candidates"][0]["content"]["parts"] == [{"text": "echo: hi"}]
