"""Error fidelity: what each official SDK gives its caller for an upstream error that came through
Sluice from another provider kind, against what the same SDK gives when its own provider sends the
equivalent error.

The reference is sluice-mock in the SDK's own format (it speaks every provider's error shapes,
`src/mock/<format>.rs`). For an upstream of kind P and a fault `error-NNN`, the equivalent error
is the one P actually sent: P's format may not have NNN (Google sends no 413 or 529, Bedrock no
401 or 504), so the mock is asked first, in P's own wire format, for the status and message it
answers; then the SDK's own provider is asked for that status, and the two outcomes must agree:

- the exception class, the HTTP status and the error's type field the SDK exposes (Anthropic
  `error.type`, Gemini `status`, botocore `Error.Code`); OpenAI clients are compared by class
  and status, which is what they key on (PROTOCOLS 2.9);
- the retry decision of the SDK's own retry logic (openai, anthropic: `_should_retry` on the
  response, headers included; botocore's standard retry conditions; google-genai and cohere
  decide by the status alone, compared above);
- the upstream's message reaches the caller unchanged (across formats, a 401 or 403 says first
  that the upstream refused the gateway's credentials, naming the provider).

The same holds for streaming requests refused before the first byte, and for streams that fail
half-way (`midstream-NNN`: the format's in-stream error after half the events), where the outcome
is the SDK's stream error. A Cohere upstream's in-stream error carries no status (a
`message-end` with `finish_reason: ERROR`), so it reaches other clients as their server error.

Last, the gateway's own refusals (unknown route, an empty model after a provider prefix, a body
over `max_body_bytes`, malformed JSON) in each client's format.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from conftest import bedrock_runtime, start_gateway

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock", "cohere"]
SDKS = ["openai", "anthropic", "genai", "boto3", "cohere"]
# The provider kind each SDK is the client of.
NATIVE = {"openai": "openai", "anthropic": "anthropic", "genai": "gemini", "boto3": "bedrock", "cohere": "cohere"}
STATUSES = [400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529]
STREAM_STATUSES = [400, 401, 408, 429, 500, 503, 504, 529]
MIDSTREAM_STATUSES = [500, 429, 529]


@dataclass(frozen=True)
class Outcome:
    """What a caller sees: the exception (class name, or "ok"), the HTTP status, the error's
    type field, the message, and whether the SDK would retry (None: decided by status alone)."""

    kind: str
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry: bool | None = None

    def without_message(self):
        return (self.kind, self.status, self.code, self.retry)


def messages(text):
    return [{"role": "user", "content": text}]


class OpenAISdk:
    def __init__(self, base):
        import openai

        self.m = openai
        self.c = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=15)

    def call(self, model, stream=False, text="hi"):
        try:
            r = self.c.chat.completions.create(model=model, messages=messages(text), stream=stream)
            if stream:
                for _ in r:
                    pass
            return Outcome("ok")
        except self.m.APIStatusError as e:
            b = e.body if isinstance(e.body, dict) else {}
            return Outcome(type(e).__name__, e.status_code, None, b.get("message"), self.c._should_retry(e.response))
        except self.m.APIError as e:
            # An in-stream `data: {"error":...}`: the body is the error object.
            b = e.body if isinstance(e.body, dict) else {}
            return Outcome(type(e).__name__, None, f"{b.get('type')}/{b.get('code')}", e.message)


class AnthropicSdk:
    def __init__(self, base):
        import anthropic

        self.m = anthropic
        self.c = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="k", max_retries=0, timeout=15)

    def call(self, model, stream=False, text="hi"):
        try:
            if stream:
                with self.c.messages.stream(model=model, max_tokens=50, messages=messages(text)) as s:
                    for _ in s:
                        pass
            else:
                self.c.messages.create(model=model, max_tokens=50, messages=messages(text))
            return Outcome("ok")
        except self.m.APIStatusError as e:
            b = e.body if isinstance(e.body, dict) else {}
            err = b.get("error") if isinstance(b.get("error"), dict) else {}
            # A mid-stream `event: error` raises with the stream's status (200): no retry there.
            retry = self.c._should_retry(e.response) if e.status_code != 200 else None
            return Outcome(type(e).__name__, e.status_code, err.get("type"), err.get("message"), retry)


class GenaiSdk:
    def __init__(self, base):
        from google import genai
        from google.genai import errors, types

        self.errors = errors
        self.c = genai.Client(
            api_key="k",
            http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v1beta", timeout=15_000),
        )

    def call(self, model, stream=False, text="hi"):
        try:
            if stream:
                for _ in self.c.models.generate_content_stream(model=model, contents=text):
                    pass
            else:
                self.c.models.generate_content(model=model, contents=text)
            return Outcome("ok")
        except self.errors.APIError as e:
            return Outcome(type(e).__name__, e.code, e.status, e.message)


class Boto3Sdk:
    def __init__(self, base):
        import botocore
        from botocore.retries import standard

        self.botocore = botocore
        self.retry = standard.StandardRetryConditions()
        self.RetryContext = standard.RetryContext
        self.c = bedrock_runtime(f"{base}/bedrock")
        self.operation = self.c.meta.service_model.operation_model("Converse")

    def would_retry(self, e):
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        ctx = self.RetryContext(
            attempt_number=1,
            operation_model=self.operation,
            parsed_response=e.response,
            http_response=SimpleNamespace(status_code=status),
            caught_exception=None,
        )
        return self.retry.is_retryable(ctx)

    def call(self, model, stream=False, text="hi"):
        msgs = [{"role": "user", "content": [{"text": text}]}]
        try:
            if stream:
                for _ in self.c.converse_stream(modelId=model, messages=msgs)["stream"]:
                    pass
            else:
                self.c.converse(modelId=model, messages=msgs)
            return Outcome("ok")
        except self.botocore.exceptions.ClientError as e:
            err = e.response["Error"]
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(e, self.botocore.exceptions.EventStreamError):
                return Outcome("EventStreamError", None, err.get("Code"), err.get("Message"))
            return Outcome("ClientError", status, err.get("Code"), err.get("Message"), self.would_retry(e))


class CohereSdk:
    def __init__(self, base):
        import cohere

        self.m = cohere
        self.c = cohere.ClientV2(api_key="k", base_url=f"{base}/cohere", timeout=15)

    def call(self, model, stream=False, text="hi"):
        try:
            if stream:
                events = list(self.c.chat_stream(model=model, messages=messages(text), request_options=NO_RETRY))
                last = events[-1]
                if last.type == "message-end" and last.delta.finish_reason == "ERROR":
                    # Cohere has no in-stream error event: the SDK does not raise (PROTOCOLS 7.5).
                    return Outcome("finish ERROR", None, None, last.delta.error)
            else:
                self.c.chat(model=model, messages=messages(text), request_options=NO_RETRY)
            return Outcome("ok")
        except self.m.core.api_error.ApiError as e:
            b = e.body if isinstance(e.body, dict) else {}
            return Outcome(type(e).__name__, e.status_code, None, b.get("message"))


# The cohere SDK retries 408, 429 and 5xx twice by default, with back-off.
NO_RETRY = {"max_retries": 0}

ADAPTERS = {"openai": OpenAISdk, "anthropic": AnthropicSdk, "genai": GenaiSdk, "boto3": Boto3Sdk, "cohere": CohereSdk}


@pytest.fixture(scope="module")
def via_sluice(sluice):
    return {name: cls(sluice.base) for name, cls in ADAPTERS.items()}


@pytest.fixture(scope="module")
def direct(sluice_mock):
    """Each SDK against its own provider (sluice-mock in the SDK's format), with a cache: the
    same reference answer serves every upstream kind."""
    sdks = {name: cls(sluice_mock.base) for name, cls in ADAPTERS.items()}
    cache = {}

    def call(sdk, model, stream=False):
        key = (sdk, model, stream)
        if key not in cache:
            cache[key] = sdks[sdk].call(model, stream)
        return cache[key]

    return call


def _post(base, path, body, headers=None):
    """One raw JSON POST on loopback: (status, headers, parsed body or None)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"content-type": "application/json", "authorization": "Bearer k", "x-api-key": "k", **(headers or {})}
        conn.request("POST", path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed
    finally:
        conn.close()


@pytest.fixture(scope="module")
def upstream_error(sluice_mock):
    """What an upstream of kind P answers for `model`, asked in P's own wire format: (HTTP
    status, message). The equivalent error each SDK's own provider is then asked for."""
    cache = {}
    user = [{"role": "user", "content": "hi"}]

    def ask(provider, model):
        if (provider, model) in cache:
            return cache[(provider, model)]
        base = sluice_mock.base
        if provider == "openai":
            status, _, b = _post(base, "/v1/chat/completions", {"model": model, "messages": user})
            message = b["error"]["message"]
        elif provider == "anthropic":
            status, _, b = _post(base, "/v1/messages", {"model": model, "max_tokens": 9, "messages": user})
            assert b["type"] == "error", b
            message = b["error"]["message"]
        elif provider == "gemini":
            body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
            status, _, b = _post(base, f"/v1beta/models/{model}:generateContent", body)
            assert b["error"]["code"] == status, b
            message = b["error"]["message"]
        elif provider == "bedrock":
            body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
            status, h, b = _post(base, f"/model/{model}/converse", body)
            assert h.get("x-amzn-errortype"), h
            message = b["message"]
        else:
            status, _, b = _post(base, "/v2/chat", {"model": model, "messages": user})
            message = b["message"]
        assert status >= 400, (provider, model, status, b)
        cache[(provider, model)] = (status, message)
        return status, message

    return ask


def _check_matrix(via_sluice, direct, upstream_error, sdk, provider, statuses, stream):
    problems = []
    for status in statuses:
        sent, message = upstream_error(provider, f"error-{status}")
        got = via_sluice[sdk].call(f"{provider}/error-{status}", stream)
        # The SDK's own kind passes through: the same error (Bedrock's 401 is a 403 whose
        # `UnrecognizedClientException` the status alone would not ask for).
        want = direct(sdk, f"error-{status if provider == NATIVE[sdk] else sent}", stream)
        if got.without_message() != want.without_message():
            problems.append(f"error-{status} (upstream sent {sent}): got {got}, own provider gives {want}")
        # Across formats, a refusal of the gateway's own key says so (the same format relays
        # the upstream's body as sent).
        if provider != NATIVE[sdk] and sent in (401, 403):
            message = refused_credentials(provider, sent, message)
        if got.message != message:
            problems.append(f"error-{status}: message {got.message!r}, upstream said {message!r}")
    assert not problems, "\n".join(problems)


def refused_credentials(provider, status, message):
    """The message a translated 401 or 403 carries: the provider (named as its kind here)
    refused the key Sluice sent it, not the client's."""
    return (
        f'upstream provider "{provider}" ({provider}) refused the gateway\'s credentials for it '
        f'(HTTP {status}): check the keys Sluice is configured with for "{provider}", not the '
        f"client's key. The upstream said: {message}"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("sdk", SDKS)
def test_upstream_errors_as_the_sdks_own_provider_gives_them(via_sluice, direct, upstream_error, sdk, provider):
    _check_matrix(via_sluice, direct, upstream_error, sdk, provider, STATUSES, stream=False)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("sdk", SDKS)
def test_stream_refused_before_the_first_byte_raises_the_same(via_sluice, direct, upstream_error, sdk, provider):
    _check_matrix(via_sluice, direct, upstream_error, sdk, provider, STREAM_STATUSES, stream=True)


# What PROTOCOLS names for these faults, whichever upstream sent them: (class, status, type).
ANCHORS = {
    ("openai", 429): ("RateLimitError", 429, None),
    ("anthropic", 429): ("RateLimitError", 429, "rate_limit_error"),
    ("genai", 429): ("ClientError", 429, "RESOURCE_EXHAUSTED"),
    ("boto3", 429): ("ClientError", 429, "ThrottlingException"),
    ("cohere", 429): ("TooManyRequestsError", 429, None),
    ("genai", 529): ("ServerError", 503, "UNAVAILABLE"),
    ("boto3", 529): ("ClientError", 503, "ServiceUnavailableException"),
    ("cohere", 529): ("ServiceUnavailableError", 503, None),
    ("boto3", 400): ("ClientError", 400, "ValidationException"),
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_anchored_classes(via_sluice, provider):
    for (sdk, status), want in ANCHORS.items():
        got = via_sluice[sdk].call(f"{provider}/error-{status}")
        assert (got.kind, got.status, got.code) == want, (sdk, status)
        if status != 400:
            assert got.retry is not False, f"{sdk} {status}: a retryable fault made final"
    # Anthropic's overloaded fault is `overloaded_error` from every upstream (529 where the
    # upstream's format has it, else 503), which the SDK retries.
    got = via_sluice["anthropic"].call(f"{provider}/error-529")
    assert (got.code, got.retry) == ("overloaded_error", True)
    assert got.kind in ("OverloadedError", "ServiceUnavailableError")


def test_a_retry_hint_steers_the_sdks_that_read_it(via_sluice, sluice_mock):
    """Sanity of the retry comparison: the decision really is the SDK's, header included."""
    import httpx

    for sdk in ("openai", "anthropic"):
        c = via_sluice[sdk].c
        req = httpx.Request("POST", sluice_mock.base)
        assert c._should_retry(httpx.Response(400, request=req, headers={"x-should-retry": "true"}))
        assert not c._should_retry(httpx.Response(529, request=req, headers={"x-should-retry": "false"}))


def _midstream_reference(direct, sdk, provider, status):
    # Cohere's in-stream error has no status: other clients get their server error (500).
    return direct(sdk, f"midstream-{500 if provider == 'cohere' else status}", True)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("sdk", SDKS)
def test_midstream_errors_as_the_sdks_own_provider_reports_them(via_sluice, direct, sdk, provider):
    problems = []
    for status in MIDSTREAM_STATUSES:
        got = via_sluice[sdk].call(f"{provider}/midstream-{status}", stream=True)
        want = _midstream_reference(direct, sdk, provider, status)
        if got != want:
            problems.append(f"midstream-{status}: got {got}, own provider gives {want}")
    assert not problems, "\n".join(problems)


def test_midstream_errors_are_reported_not_swallowed(via_sluice):
    """The reference itself: each SDK reports its own provider's in-stream error."""
    for sdk in SDKS:
        got = via_sluice[sdk].call(f"{NATIVE[sdk]}/midstream-529", stream=True)
        assert got.kind != "ok" and got.message == "mock mid-stream failure requested by model name", (sdk, got)


# A Bedrock upstream's `modelStreamErrorException` (424: the model failed, retry the request):
# each client's server fault, never its own invalid request.
MODEL_STREAM_ERROR = {
    "openai": ("APIError", None, "server_error/None"),
    "anthropic": ("APIStatusError", 200, "api_error"),
    "genai": ("ServerError", 500, "INTERNAL"),
    "boto3": ("EventStreamError", None, "modelStreamErrorException"),
    "cohere": ("finish ERROR", None, None),
}


@pytest.mark.parametrize("sdk", SDKS)
def test_a_model_stream_error_is_a_server_fault_for_every_client(via_sluice, sdk):
    got = via_sluice[sdk].call("bedrock/midstream-424", stream=True)
    assert (got.kind, got.status, got.code) == MODEL_STREAM_ERROR[sdk]
    assert got.message == "mock mid-stream failure requested by model name"


# ---- the gateway's own refusals ---------------------------------------------------------------


def test_unknown_route_is_each_sdks_not_found(sluice):
    import anthropic
    import cohere
    import openai
    from google import genai
    from google.genai import errors, types

    base = sluice.base
    with pytest.raises(openai.NotFoundError) as e:
        openai.OpenAI(base_url=f"{base}/v1/nope", api_key="k", max_retries=0).chat.completions.create(
            model="m", messages=messages("hi")
        )
    assert "no route" in e.value.body["message"]
    with pytest.raises(anthropic.NotFoundError) as e:
        anthropic.Anthropic(base_url=f"{base}/anthropic/nope", api_key="k", max_retries=0).messages.create(
            model="m", max_tokens=5, messages=messages("hi")
        )
    assert e.value.body["error"]["type"] == "not_found_error"
    g = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{base}/genai", api_version="v9"))
    with pytest.raises(errors.ClientError) as e:
        g.models.generate_content(model="m", contents="hi")
    assert (e.value.code, e.value.status) == (404, "NOT_FOUND")
    with pytest.raises(cohere.errors.NotFoundError):
        cohere.ClientV2(api_key="k", base_url=f"{base}/cohere/nope").chat(model="m", messages=messages("hi"))
    b = bedrock_runtime(f"{base}/bedrock/nope")
    with pytest.raises(b.exceptions.ResourceNotFoundException):
        b.converse(modelId="m", messages=[{"role": "user", "content": [{"text": "hi"}]}])


@pytest.mark.parametrize("sdk", SDKS)
def test_a_provider_prefix_without_a_model_is_each_sdks_bad_request(via_sluice, sdk):
    got = via_sluice[sdk].call("anthropic/")
    want = {
        "openai": ("BadRequestError", 400, None),
        "anthropic": ("BadRequestError", 400, "invalid_request_error"),
        "genai": ("ClientError", 400, "INVALID_ARGUMENT"),
        "boto3": ("ClientError", 400, "ValidationException"),
        "cohere": ("BadRequestError", 400, None),
    }[sdk]
    assert (got.kind, got.status, got.code) == want
    assert got.retry is not True, "a bad request is not retried"


@pytest.fixture(scope="module")
def small_body_gateway(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("small-body")
    config = '[routing]\ndefault_provider = "mock"\n\n[[providers]]\nname = "mock"\nkind = "mock"\n'
    server = start_gateway(workdir, "sluice-small-body", config, "max_body_bytes = 4096")
    yield server
    from conftest import _teardown

    _teardown(server)


def test_a_body_over_the_limit_is_each_sdks_too_large(small_body_gateway):
    sdks = {name: cls(small_body_gateway.base) for name, cls in ADAPTERS.items()}
    got = {name: sdk.call("m", text="x" * 8192) for name, sdk in sdks.items()}
    assert got["openai"].without_message() == ("APIStatusError", 413, None, False)
    assert got["anthropic"].without_message() == ("ContentTooLargeError", 413, "request_too_large", False)
    assert (got["cohere"].kind, got["cohere"].status) == ("ApiError", 413)
    # Google and Bedrock send no 413: their refusal of a request too large is a 400.
    assert (got["genai"].kind, got["genai"].status, got["genai"].code) == ("ClientError", 400, "INVALID_ARGUMENT")
    assert got["boto3"].without_message() == ("ClientError", 400, "ValidationException", False)
    for o in got.values():
        assert "max_body_bytes" in o.message or "too large" in o.message, o


# Malformed JSON, per route: the body each SDK reads its error from, and the status.
MALFORMED = [
    ("/v1/chat/completions", 400, lambda h, b: b["error"]["type"] == "invalid_request_error"),
    ("/anthropic/v1/messages", 400, lambda h, b: b["type"] == "error" and b["error"]["type"] == "invalid_request_error"),
    ("/genai/v1beta/models/m:generateContent", 400, lambda h, b: b["error"]["status"] == "INVALID_ARGUMENT"),
    ("/bedrock/model/m/converse", 400, lambda h, b: h["x-amzn-errortype"].startswith("ValidationException:")),
    ("/cohere/v2/chat", 400, lambda h, b: isinstance(b["message"], str) and b["id"]),
]


@pytest.mark.parametrize("path,status,shape", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_json_in_each_format(sluice, path, status, shape):
    got_status, headers, body = _post(sluice.base, path, b'{"model": ')
    assert got_status == status
    assert body is not None and shape(headers, body), body


def test_made_up_error_ids_differ_between_processes(tmp_path_factory):
    """The ids Sluice makes up for its errors (Anthropic `request_id`, Cohere `id`) trace one
    answer: a second (or restarted) gateway must not hand out the first one's ids again."""
    from conftest import _teardown

    config = '[routing]\ndefault_provider = "mock"\n\n[[providers]]\nname = "mock"\nkind = "mock"\n'
    seen = []
    for n in range(2):
        server = start_gateway(tmp_path_factory.mktemp(f"ids-{n}"), f"sluice-ids-{n}", config)
        try:
            status, headers, body = _post(server.base, "/anthropic/v1/messages", b"{")
            assert status == 400 and body["request_id"] == headers["request-id"]
            _, _, cohere_body = _post(server.base, "/cohere/v2/chat", b"{")
            seen.append((body["request_id"], cohere_body["id"]))
        finally:
            _teardown(server)
    (a1, c1), (a2, c2) = seen
    assert a1 != a2 and c1 != c2, seen


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_what_the_gateway_does_not_implement_is_not_retried(via_sluice, sdk):
    """A method no route serves is Sluice's 501: final, so the SDKs that retry every 5xx are
    told not to (`x-should-retry: false`)."""
    adapter = via_sluice[sdk]
    with pytest.raises(adapter.m.APIStatusError) as e:
        adapter.c.patch("/v1/messages" if sdk == "anthropic" else "/chat/completions", cast_to=object, body={})
    assert e.value.status_code == 501
    assert e.value.response.headers.get("x-should-retry") == "false"
    assert adapter.c._should_retry(e.value.response) is False


def _answered(base, route):
    """How many requests the gateway answered on `route` (its `sluice_requests_total`), any status."""
    import re
    import urllib.request

    text = urllib.request.urlopen(f"{base}/metrics", timeout=15).read().decode()
    return sum(
        int(m.group(1))
        for m in re.finditer(r'^sluice_requests_total\{route="' + route + r'",[^}]*\} (\d+)$', text, re.M)
    )


def test_cohere_sdk_does_not_retry_what_the_gateway_does_not_implement(sluice):
    """The cohere SDK retries every 5xx twice (1 s, then 2 s) and reads no `x-should-retry`:
    Sluice's own 501 (here a PATCH, which no route serves) reaches it as Cohere's 400, answered
    once, as `BadRequestError`. Counted at the gateway, with the SDK's default retries on."""
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{sluice.base}/cohere", timeout=15)
    before = _answered(sluice.base, "unrouted")
    with pytest.raises(cohere.errors.BadRequestError) as e:
        c.connectors.update("c1", name="n")
    assert "not implemented" in e.value.body["message"]
    assert _answered(sluice.base, "unrouted") - before == 1


def test_genai_retries_do_not_cover_the_gateways_501(sluice):
    """google-genai retries only when asked (`retry_options`), and then 408, 429, 500, 502, 503
    and 504: Sluice's 501 stays Google's 501 `UNIMPLEMENTED`, answered once even with retries on."""
    from google import genai
    from google.genai import errors, types

    retry = types.HttpRetryOptions(attempts=3, initial_delay=0.1, max_delay=0.2)
    g = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{sluice.base}/genai", retry_options=retry)
    )
    before = _answered(sluice.base, "unrouted")
    with pytest.raises(errors.ServerError) as e:
        g._api_client.request("patch", "models/m:generateContent", {})
    assert (e.value.code, e.value.status) == (501, "UNIMPLEMENTED")
    assert _answered(sluice.base, "unrouted") - before == 1


def test_an_unknown_gemini_method_is_googles_not_found(sluice):
    """A call of a method Sluice does not serve, on a path that could also read as a lookup of a
    model id holding `:` and `/`, is Google's 404 NOT_FOUND (it was a 405, which a Gemini client
    read as a 400 INVALID_ARGUMENT); ids with `:` still reach their calls and their lookups."""
    from google import genai
    from google.genai import errors, types

    g = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{sluice.base}/genai", api_version="v1beta"))
    for path in ["models/m:generateContentx", "models/m:generateContentx/y", "models/m:generate_content"]:
        with pytest.raises(errors.ClientError) as e:
            g._api_client.request("post", path, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        assert (e.value.code, e.value.status) == (404, "NOT_FOUND"), path
        assert ":generateContent" in e.value.message, e.value.message
    model = "bedrock/anthropic.claude-3-haiku-20240307-v1:0"
    r = g.models.generate_content(model=model, contents="hi")
    assert r.text
    # A lookup of that id: configured models only, so Google's 404 for a model it does not know.
    with pytest.raises(errors.ClientError) as e:
        g.models.get(model=model)
    assert (e.value.code, e.value.status) == (404, "NOT_FOUND")
    assert "no route" not in e.value.message, e.value.message
