"""Operations: the access log (one line per request when enabled) and the upstream first-byte
timeout (a slow upstream becomes a 504 in the client's format, not a hung request)."""

from __future__ import annotations

import time

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


def test_first_byte_timeout_is_a_504_in_the_clients_format(slow_setup):
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as e:
        client(slow_setup).chat.completions.create(model="slow/m", messages=[{"role": "user", "content": "hi"}])
    elapsed = time.monotonic() - started
    assert e.value.status_code == 504
    assert e.value.body["type"] == "server_error"
    assert elapsed < 1.4, f"the 300 ms first-byte timeout took {elapsed:.2f}s"
