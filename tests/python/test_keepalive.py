"""Keepalives through the real SDKs. The upstream is silent for a while after its response head
(a model thinking before its first token) and between events. A translated stream then gets
keepalives where the client's format allows them (OpenAI and Cohere `: ping`, Anthropic
`event: ping`), from its head on: the client is not left without a byte until the first event,
which a load balancer's idle timeout or the client's own read timeout could cut. Every SDK must
read its answer whole through them; Gemini and Bedrock clients get none and read the same answer.
"""

from __future__ import annotations

import httpx
import pytest

from conftest import _teardown, start_gateway, start_mock
from test_sdk_matrix import ADAPTERS, SDKS, user
from test_stream_matrix import READERS, assert_same_answer

FIRST_EVENT_DELAY_MS = 400
CHUNK_DELAY_MS = 150
KEEPALIVE_MS = 80


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sluice-keepalive")
    mock = start_mock(
        workdir,
        "sluice-mock-thinking",
        "--chunks", "3",
        "--first-event-delay-ms", str(FIRST_EVENT_DELAY_MS),
        "--chunk-delay-ms", str(CHUNK_DELAY_MS),
    )
    providers = "".join(
        f'\n[[providers]]\nname = "{k}"\nkind = "{k}"\nbase_url = "{mock.base}"\nkeys = ["k"]\n'
        for k in ["openai", "anthropic", "gemini", "bedrock", "cohere"]
    )
    config = '[routing]\ndefault_provider = "openai"\n' + providers
    sluice = start_gateway(workdir, "sluice-keepalive", config, f"stream_keepalive_ms = {KEEPALIVE_MS}")
    yield sluice
    _teardown(sluice)
    _teardown(mock)


@pytest.fixture(scope="module")
def sdks(gateway):
    return {name: cls(gateway.base) for name, cls in ADAPTERS.items()}


@pytest.mark.parametrize("sdk_name", SDKS)
@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_sdks_read_a_thinking_upstreams_stream_whole(sdks, sdk_name, provider):
    model = f"{provider}/echo-model"
    turns = [user("think it over")]
    s = READERS[sdk_name](sdks[sdk_name], model, turns)
    assert s.text == "echo: think it over"
    assert_same_answer(s, sdks[sdk_name].chat(model, turns))


# What is on the wire: the pings themselves, the first of them before the first event.
RAW = [
    ("/v1/chat/completions", {"model": "anthropic/echo-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}, ": ping"),
    ("/cohere/v2/chat", {"model": "anthropic/echo-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}, ": ping"),
    (
        "/anthropic/v1/messages",
        {"model": "openai/echo-model", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        "event: ping",
    ),
]


@pytest.mark.parametrize("path,body,ping", RAW, ids=["openai", "cohere", "anthropic"])
def test_pings_come_from_the_head_on(gateway, path, body, ping):
    with httpx.stream("POST", f"{gateway.base}{path}", json=body, timeout=30) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line]
    assert lines[0] == ping, lines[:3]
    # About FIRST_EVENT_DELAY_MS / KEEPALIVE_MS of them before the first event; at least half.
    ping_lines = {ping, 'data: {"type":"ping"}'}
    first_event = next(i for i, line in enumerate(lines) if line not in ping_lines)
    assert lines[:first_event].count(ping) >= FIRST_EVENT_DELAY_MS // KEEPALIVE_MS // 2, lines


def test_gemini_gets_no_ping(gateway):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = f"{gateway.base}/genai/v1beta/models/anthropic/echo-model:streamGenerateContent?alt=sse"
    with httpx.stream("POST", url, json=body, timeout=30) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line]
    assert lines and all(line.startswith("data: {") for line in lines), lines
