"""An OpenAI-compatible upstream without the Responses API (vLLM, Ollama, an Azure deployment):
with `responses_api = false` Sluice answers `client.responses.create` from the upstream's Chat
Completions; without it the request goes to the upstream's `/v1/responses` as sent, and the
upstream's own 404 comes back."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

from conftest import _openai_client, _teardown, start_gateway

SEEN: list[tuple[str, dict]] = []


class ChatOnly(BaseHTTPRequestHandler):
    """Chat Completions only, streamed or not; anything else is a 404 in OpenAI's form."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        SEEN.append((self.path, body))
        if self.path != "/v1/chat/completions":
            return self.send(404, {"error": {"message": f"Not Found: {self.path}", "type": "invalid_request_error"}})
        system = " | ".join(m["content"] for m in body["messages"] if m["role"] == "system")
        text = f"system={system}; user={body['messages'][-1]['content']}"
        usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return self.send(
                200,
                {
                    "id": "chatcmpl-compat",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": usage,
                },
            )
        chunk = lambda delta, finish=None, **kw: {  # noqa: E731
            "id": "chatcmpl-compat",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else [],
            **kw,
        }
        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": text[i : i + 5]}) for i in range(0, len(text), 5)]
        events += [chunk({}, "stop"), chunk(None, usage=usage)]
        payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        data = payload.encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), ChatOnly)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    config = (
        '[routing]\ndefault_provider = "compat"\n\n'
        f'[[providers]]\nname = "compat"\nkind = "openai"\nbase_url = "{base}"\nkeys = ["k"]\nresponses_api = false\n\n'
        f'[[providers]]\nname = "native"\nkind = "openai"\nbase_url = "{base}"\nkeys = ["k"]\n'
    )
    sluice = start_gateway(tmp_path_factory.mktemp("sluice-compat"), "sluice-compat", config)
    c = _openai_client(f"{sluice.base}/v1")
    yield c
    c.close()
    _teardown(sluice)
    upstream.shutdown()


def test_a_response_from_chat_completions(client):
    SEEN.clear()
    r = client.responses.create(
        model="compat/llama", instructions="be brief", input="hello", metadata={"k": "v"}, truncation="auto", store=False
    )
    assert [p for p, _ in SEEN] == ["/v1/chat/completions"]
    sent = SEEN[0][1]
    assert sorted(sent) == ["messages", "model"], sent
    assert sent["model"] == "llama"
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    assert r.object == "response" and r.status == "completed"
    assert r.output_text == "system=be brief; user=hello"
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (9, 4, 13)


def test_a_streamed_response_from_a_chat_stream(client):
    SEEN.clear()
    with client.responses.stream(model="compat/llama", input="hi there") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert [p for p, _ in SEEN] == ["/v1/chat/completions"] and SEEN[0][1]["stream"] is True
    assert "".join(deltas) == final.output_text == "system=; user=hi there"
    assert len(deltas) > 1
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 4)


def test_by_default_an_openai_upstream_gets_the_responses_request_as_sent(client):
    SEEN.clear()
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model="native/llama", input="hello")
    assert [p for p, _ in SEEN] == ["/v1/responses"]
    assert SEEN[0][1] == {"model": "llama", "input": "hello"}
    assert "Not Found: /v1/responses" in e.value.message


def test_a_count_is_refused_without_asking_the_upstream(client):
    SEEN.clear()
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.input_tokens.count(model="compat/llama", input="hello")
    assert e.value.param == "model" and SEEN == []
