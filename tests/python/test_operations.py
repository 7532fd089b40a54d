"""Operations: the access log (one line per request when enabled) and the upstream first-byte
timeout (a slow upstream becomes a 504 in the client's format, not a hung request)."""

from __future__ import annotations

import time

import openai
import pytest

from conftest import _binary, _start, _teardown


@pytest.fixture(scope="module")
def slow_setup(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sluice-ops")
    mock = _start(
        "sluice-mock-slow",
        [str(_binary("SLUICE_MOCK_BIN", "sluice-mock")), "--listen", "127.0.0.1:0", "--latency-ms", "1500"],
        workdir,
    )
    config = workdir / "sluice.toml"
    config.write_text(
        f"""
[server]
listen = "127.0.0.1:0"
workers = 1
access_log = true

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
"""
    )
    sluice = _start("sluice-ops", [str(_binary("SLUICE_BIN", "sluice")), "--config", str(config)], workdir)
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
