"""Sluice signs requests to a Bedrock upstream with SigV4 (provider keys aws_access_key_id,
aws_secret_access_key, aws_session_token, region), and the signature is the one botocore computes.

The fake upstream recomputes the signature of what it received with botocore's own SigV4Auth and
answers 403 (as AWS would) when it does not match, so a wrong signature fails the test.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import _binary, _start, _teardown

AK, SK, TOKEN, REGION = "AKIDSLUICETEST", "sluice/test+secret", "session-token-xyz", "eu-west-3"
SEEN: list[dict] = []


class FakeBedrock(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        auth = self.headers.get("authorization", "")
        signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in auth else []
        req = AWSRequest(
            method="POST",
            url=f"http://{self.headers['host']}{self.path}",
            data=body,
            headers={h: self.headers[h] for h in signed if h != "host"},
        )
        req.context["timestamp"] = self.headers.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(AK, SK, TOKEN), "bedrock", REGION)
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        got = auth.rsplit("Signature=", 1)[-1]
        ok = (
            auth.startswith(f"AWS4-HMAC-SHA256 Credential={AK}/")
            and f"/{REGION}/bedrock/aws4_request" in auth
            and got == expected
            and self.headers.get("x-amz-security-token") == TOKEN
        )
        SEEN.append({"path": self.path, "ok": ok, "signed": signed})
        if not ok:
            out, status = {"message": "The request signature we calculated does not match"}, 403
        else:
            out, status = {
                "output": {"message": {"role": "assistant", "content": [{"text": "signed ok"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
                "metrics": {"latencyMs": 1},
            }, 200
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if status == 403:
            self.send_header("x-amzn-ErrorType", "InvalidSignatureException:http://internal.amazon.com/coral/")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def sluice_sigv4(tmp_path_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBedrock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    workdir = tmp_path_factory.mktemp("sluice-sigv4")
    config = workdir / "sluice.toml"
    config.write_text(
        f"""
[server]
listen = "127.0.0.1:0"
workers = 1

[routing]
default_provider = "br"

[[providers]]
name = "br"
kind = "bedrock"
base_url = "http://127.0.0.1:{port}"
aws_access_key_id = "{AK}"
aws_secret_access_key = "env.SLUICE_TEST_AWS_SECRET"
aws_session_token = "{TOKEN}"
region = "{REGION}"
"""
    )
    import os

    os.environ["SLUICE_TEST_AWS_SECRET"] = SK
    sluice = _start("sluice-sigv4", [str(_binary("SLUICE_BIN", "sluice")), "--config", str(config)], workdir)
    yield sluice
    _teardown(sluice)
    server.shutdown()


def test_translated_request_is_signed_as_botocore_signs(sluice_sigv4):
    SEEN.clear()
    c = openai.OpenAI(base_url=f"{sluice_sigv4.base}/v1", api_key="client-key", max_retries=0, timeout=30)
    r = c.chat.completions.create(
        model="br/anthropic.claude-3-5-sonnet-20240620-v1:0", messages=[{"role": "user", "content": "hi"}]
    )
    assert r.choices[0].message.content == "signed ok"
    assert SEEN[0]["ok"], SEEN
    assert SEEN[0]["path"] == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert "x-amz-date" in SEEN[0]["signed"] and "host" in SEEN[0]["signed"]


def test_same_format_request_is_signed_too(sluice_sigv4):
    import boto3
    from botocore.config import Config

    SEEN.clear()
    c = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=sluice_sigv4.base,
        aws_access_key_id="CLIENTKEY",
        aws_secret_access_key="client-secret",
        config=Config(retries={"max_attempts": 1}),
    )
    r = c.converse(modelId="br/m", messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert r["output"]["message"]["content"][0]["text"] == "signed ok"
    assert SEEN[0]["ok"], "the client's own signature must be replaced by Sluice's"
