"""Sluice talking TLS to an upstream whose certificate is signed by a private CA.

The upstream is a tiny HTTPS server in this process that answers in the OpenAI format. The
provider with `tls_ca_file` trusts it; the same upstream without the CA must fail closed (502),
never fall back to plain text or skip verification.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
import trustme

from conftest import _binary, _start, _teardown

SEEN: list[dict] = []


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        req = json.loads(body)
        SEEN.append({"path": self.path, "auth": self.headers.get("authorization"), "model": req.get("model")})
        answer = {
            "id": "chatcmpl-tls",
            "object": "chat.completion",
            "created": 1700000000,
            "model": req.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "over tls"},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def tls_setup(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    workdir = tmp_path_factory.mktemp("sluice-tls")
    ca_file = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    config = workdir / "sluice.toml"
    config.write_text(
        f"""
[server]
listen = "127.0.0.1:0"
workers = 1

[routing]
default_provider = "trusted"

[[providers]]
name = "trusted"
kind = "openai"
base_url = "https://localhost:{port}"
tls_ca_file = "{ca_file}"
keys = ["sk-tls"]

[[providers]]
name = "untrusted"
kind = "openai"
base_url = "https://localhost:{port}"
keys = ["sk-tls"]
"""
    )
    sluice = _start("sluice-tls", [str(_binary("SLUICE_BIN", "sluice")), "--config", str(config)], workdir)
    yield sluice
    _teardown(sluice)
    server.shutdown()


def client(sluice):
    return openai.OpenAI(base_url=f"{sluice.base}/v1", api_key="client-key", max_retries=0, timeout=30)


def test_tls_upstream_with_private_ca(tls_setup):
    SEEN.clear()
    r = client(tls_setup).chat.completions.create(
        model="trusted/gpt-tls", messages=[{"role": "user", "content": "hi"}]
    )
    assert r.choices[0].message.content == "over tls"
    assert r.model == "gpt-tls"
    assert SEEN == [{"path": "/v1/chat/completions", "auth": "Bearer sk-tls", "model": "gpt-tls"}]
    # A second request reuses the pooled TLS connection and still works.
    r = client(tls_setup).chat.completions.create(
        model="trusted/gpt-tls", messages=[{"role": "user", "content": "again"}]
    )
    assert r.choices[0].message.content == "over tls"


def test_untrusted_certificate_fails_closed(tls_setup):
    SEEN.clear()
    with pytest.raises(openai.APIStatusError) as e:
        client(tls_setup).chat.completions.create(
            model="untrusted/gpt-tls", messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.status_code == 502
    assert "TLS" in str(e.value)
    assert SEEN == [], "no request may reach an upstream whose certificate failed verification"
