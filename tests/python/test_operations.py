"""Operations: the access log (one line per request when enabled) and the upstream first-byte
timeout (a slow upstream becomes a 504 in the client's format, not a hung request)."""

from __future__ import annotations

import socket
import time

import httpx
import openai
import pytest

from conftest import _teardown, start_gateway, start_mock


@pytest.fixture(scope="module")
def slow_setup(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sluice-ops")
    mock = start_mock(workdir, "sluice-mock-slow", "--latency-ms", "1500")
    sluice = start_gateway(
        workdir,
        "sluice-ops",
        f"""
[routing]
default_provider = "fast"

[[providers]]
name = "fast"
kind = "mock"

[[providers]]
name = "slow"
kind = "openai"
base_url = "{mock.base}"
keys = ["k"]
first_byte_timeout_ms = 300
""",
        server_extra="access_log = true",
    )
    yield sluice
    _teardown(sluice)
    _teardown(mock)


def client(s):
    return openai.OpenAI(base_url=f"{s.base}/v1", api_key="k", max_retries=0, timeout=30)


def test_access_log_line_per_request(slow_setup):
    client(slow_setup).chat.completions.create(model="fast/m", messages=[{"role": "user", "content": "hi"}])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = slow_setup.stderr_text()
        if "access method=POST path=/v1/chat/completions status=200 provider=fast" in log:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"no access log line:\n{slow_setup.stderr_text()}")


def refused(server, wire: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(wire)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_refusals_of_the_http_layer_are_logged_too(slow_setup):
    # A 413 is what an operator greps the log for; a request line that did not parse is `-`.
    big = b"POST /v1/messages?beta=true HTTP/1.1\r\nhost: x\r\ncontent-length: 999999999999\r\n\r\n"
    assert refused(slow_setup, big).startswith(b"HTTP/1.1 413 ")
    assert refused(slow_setup, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    wait_for(
        "access log lines for the refusals",
        lambda: "access method=POST path=/v1/messages status=413 provider=- " in slow_setup.stderr_text()
        and "access method=- path=- status=400 provider=- " in slow_setup.stderr_text(),
    )


def test_first_byte_timeout_is_a_504_in_the_clients_format(slow_setup):
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as e:
        client(slow_setup).chat.completions.create(model="slow/m", messages=[{"role": "user", "content": "hi"}])
    elapsed = time.monotonic() - started
    assert e.value.status_code == 504
    assert e.value.body["type"] == "server_error"
    assert elapsed < 1.4, f"the 300 ms first-byte timeout took {elapsed:.2f}s"


def wait_for(what, find, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"no {what}")


def test_a_stream_that_fails_after_its_head_is_logged_and_counted(slow_setup):
    # The mock's `midstream` scenario: a 200 head, half the answer, then the format's in-stream
    # error (500). The SDK raises it; the access log and the metrics say what happened, though
    # the status sent was 200.
    stream = client(slow_setup).chat.completions.create(
        model="fast/midstream", messages=[{"role": "user", "content": "one two three four five six"}], stream=True
    )
    texts = []
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            texts.extend(c.delta.content or "" for c in chunk.choices)
    assert "mid-stream failure" in str(e.value)
    assert "".join(texts), "events before the error"
    wait_for(
        "access log line with the midstream error",
        lambda: "path=/v1/chat/completions status=200 provider=fast" in slow_setup.stderr_text()
        and "midstream_error=500\n" in slow_setup.stderr_text(),
    )
    series = 'sluice_midstream_errors_total{route="chat_completions",provider="fast",status="500"} '
    metrics = wait_for(
        "midstream error series",
        lambda: next(
            (l for l in httpx.get(f"{slow_setup.base}/metrics").text.splitlines() if l.startswith(series)), None
        ),
    )
    assert float(metrics[len(series) :]) >= 1

    # A whole stream adds no midstream error.
    before = httpx.get(f"{slow_setup.base}/metrics").text
    done = list(
        client(slow_setup).chat.completions.create(
            model="fast/m", messages=[{"role": "user", "content": "whole"}], stream=True
        )
    )
    assert done[-1].choices[0].finish_reason == "stop"
    after = httpx.get(f"{slow_setup.base}/metrics").text
    midstream = lambda text: sorted(l for l in text.splitlines() if l.startswith("sluice_midstream_errors_total{"))
    assert midstream(after) == midstream(before)
