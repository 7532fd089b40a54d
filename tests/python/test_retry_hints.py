"""Retry hints survive translation, seen through the real SDKs: an upstream 429 with `retry-after`
(Anthropic's form) reaches an OpenAI client as the same headers, and a Gemini client as Google's
own form, a `google.rpc.RetryInfo` detail in the error body (`APIError.details`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import _teardown, one_provider, start_gateway


class RateLimited(BaseHTTPRequestHandler):
    """An Anthropic upstream that answers every request with a 429 and its retry hints."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps(
            {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}}
        ).encode()
        self.send_response(429)
        self.send_header("content-type", "application/json")
        self.send_header("retry-after", "3")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), RateLimited)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    workdir = tmp_path_factory.mktemp("sluice-retry")
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    sluice = start_gateway(workdir, "sluice-retry", one_provider("anthropic", base))
    yield sluice
    _teardown(sluice)
    upstream.shutdown()


def test_openai_sdk_sees_the_upstreams_retry_after(gateway):
    c = openai.OpenAI(base_url=f"{gateway.base}/v1", api_key="k", max_retries=0, timeout=30)
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="anthropic/claude-x", messages=[{"role": "user", "content": "hi"}])
    assert e.value.response.headers.get("retry-after") == "3"
    assert "exceeded your rate limit" in e.value.message


def test_genai_sdk_sees_retry_info_in_the_error_details(gateway):
    c = genai.Client(
        api_key="k", http_options=genai_types.HttpOptions(base_url=f"{gateway.base}/genai", timeout=30_000)
    )
    for call in (c.models.generate_content, c.models.generate_content_stream):
        with pytest.raises(genai_errors.ClientError) as e:
            result = call(model="anthropic/claude-x", contents="hi")
            list(result)  # a stream raises on iteration
        assert e.value.code == 429
        details = e.value.details["error"]["details"]
        assert details == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}], details
