"""Stored responses (`store`, on by default in the Responses API): `client.responses.retrieve`,
`.delete`, `.cancel` and `.input_items.list` name no model, so Sluice sends them to the provider
that holds stored responses: the one `routing.stored_responses_provider` names, else the default
provider if it is an OpenAI provider with the Responses API, else the only such provider. Sluice
keeps no responses itself; with no provider to ask (or several and none named or the default)
the answer is a 404 that says why.

The upstream here is a fake OpenAI that stores what `responses.create` sends it and serves the
stored-response routes, recording each request it gets."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import openai
import pytest

from conftest import _openai_client, _teardown, raw_request, start_gateway

KEY = "sk-stored-upstream"


class Store:
    def __init__(self):
        self.responses: dict[str, dict] = {}
        self.inputs: dict[str, list] = {}
        self.seen: list[tuple[str, str, str | None, str | None]] = []
        self.lock = threading.Lock()


def response_obj(rid: str, model: str, text: str, status: str = "completed") -> dict:
    return {
        "id": rid,
        "object": "response",
        "created_at": 1_700_000_000,
        "status": status,
        "model": model,
        "output": [
            {
                "id": f"msg_{rid}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 2,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 5,
        },
    }


def make_handler(store: Store):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def record(self):
            url = urlsplit(self.path)
            with store.lock:
                store.seen.append((self.command, url.path, url.query or None, self.headers.get("authorization")))
            return url

        def body(self) -> dict:
            n = int(self.headers.get("content-length", 0) or 0)
            return json.loads(self.rfile.read(n) or b"{}") if n else {}

        def send(self, status: int, obj) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("x-request-id", "req_fake_upstream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def missing(self, rid: str) -> None:
            message = f"Response with id '{rid}' not found."
            self.send(404, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})

        def parts(self, url) -> tuple[str, str]:
            rest = url.path.removeprefix("/v1/responses/")
            rid, _, tail = rest.partition("/")
            return rid, tail

        def do_POST(self):  # noqa: N802
            url = self.record()
            body = self.body()
            if url.path == "/v1/responses":
                with store.lock:
                    rid = f"resp_fake{len(store.responses) + 1}"
                    text = body["input"] if isinstance(body["input"], str) else "items"
                    store.responses[rid] = response_obj(rid, body["model"], f"stored: {text}")
                    store.inputs[rid] = [
                        {
                            "id": f"msg_in_{rid}",
                            "type": "message",
                            "role": "user",
                            "status": "completed",
                            "content": [{"type": "input_text", "text": text}],
                        }
                    ]
                return self.send(200, store.responses[rid])
            rid, tail = self.parts(url)
            if tail == "cancel" and rid in store.responses:
                store.responses[rid]["status"] = "cancelled"
                return self.send(200, store.responses[rid])
            return self.missing(rid)

        def do_GET(self):  # noqa: N802
            url = self.record()
            rid, tail = self.parts(url)
            if rid not in store.responses:
                return self.missing(rid)
            if tail == "input_items":
                items = store.inputs[rid]
                return self.send(
                    200,
                    {"object": "list", "data": items, "first_id": items[0]["id"], "last_id": items[-1]["id"], "has_more": False},
                )
            resp = store.responses[rid]
            if "stream=true" not in (url.query or ""):
                return self.send(200, resp)
            events = [
                ("response.created", {"type": "response.created", "sequence_number": 0, "response": {**resp, "status": "in_progress", "output": []}}),
                ("response.completed", {"type": "response.completed", "sequence_number": 1, "response": resp}),
            ]
            data = "".join(f"event: {k}\ndata: {json.dumps(v)}\n\n" for k, v in events).encode()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_DELETE(self):  # noqa: N802
            url = self.record()
            rid, _ = self.parts(url)
            with store.lock:
                gone = store.responses.pop(rid, None)
            if gone is None:
                return self.missing(rid)
            return self.send(200, {"id": rid, "object": "response.deleted", "deleted": True})

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture(scope="module")
def upstream():
    store = Store()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(store))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield store
    server.shutdown()


def openai_provider(name: str, base: str, key: str = KEY) -> str:
    return f'[[providers]]\nname = "{name}"\nkind = "openai"\nbase_url = "{base}"\nkeys = ["{key}"]\n'


MOCK = '[[providers]]\nname = "mock"\nkind = "mock"\n'


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    """The in-process mock is the default; the one OpenAI provider holds the stored responses."""
    config = '[routing]\ndefault_provider = "mock"\n\n' + MOCK + openai_provider("openai", upstream.base)
    server = start_gateway(tmp_path_factory.mktemp("stored"), "sluice-stored", config)
    yield server
    _teardown(server)


@pytest.fixture(scope="module")
def client(gateway):
    c = _openai_client(f"{gateway.base}/v1")
    yield c
    c.close()


def created(client, text: str = "hello there"):
    return client.responses.create(model="openai/gpt-4o-mini", input=text, store=True)


def test_retrieve_gets_the_stored_response_from_the_provider(client, upstream):
    r = created(client)
    assert r.id.startswith("resp_fake")
    got = client.responses.retrieve(r.id)
    assert (got.id, got.status, got.output_text) == (r.id, "completed", "stored: hello there")
    method, path, query, auth = upstream.seen[-1]
    assert (method, path, query) == ("GET", f"/v1/responses/{r.id}", None)
    # The provider's key goes upstream, never the client's.
    assert auth == f"Bearer {KEY}"


def test_the_openai_prefixed_route_and_the_query_go_through(gateway, upstream):
    c = _openai_client(f"{gateway.base}/openai/v1")
    try:
        r = created(c, "via prefix")
        got = c.responses.retrieve(r.id, include=["message.output_text.logprobs"])
        assert got.output_text == "stored: via prefix"
        method, path, query, _ = upstream.seen[-1]
        assert (method, path) == ("GET", f"/v1/responses/{r.id}")
        assert "include" in (query or ""), query
    finally:
        c.close()


def test_input_items_list(client, upstream):
    r = created(client, "list my input")
    items = client.responses.input_items.list(r.id)
    assert [(i.type, i.role, i.content[0].text) for i in items.data] == [("message", "user", "list my input")]
    assert upstream.seen[-1][:2] == ("GET", f"/v1/responses/{r.id}/input_items")


def test_cancel(client, upstream):
    r = created(client, "cancel me")
    got = client.responses.cancel(r.id)
    assert got.status == "cancelled"
    assert upstream.seen[-1][:2] == ("POST", f"/v1/responses/{r.id}/cancel")


def test_a_retrieved_stream_is_relayed_as_events(client, upstream):
    r = created(client, "replay me")
    events = list(client.responses.retrieve(r.id, stream=True))
    assert [e.type for e in events] == ["response.created", "response.completed"]
    assert events[-1].response.output_text == "stored: replay me"
    assert "stream=true" in (upstream.seen[-1][2] or "")


def test_delete_then_retrieve_is_the_upstreams_404(client, upstream):
    r = created(client, "delete me")
    assert client.responses.delete(r.id) is None
    assert upstream.seen[-1][:2] == ("DELETE", f"/v1/responses/{r.id}")
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.retrieve(r.id)
    # The upstream's own answer, relayed: its message and its request id.
    assert e.value.message.endswith(f"Response with id '{r.id}' not found."), e.value.message
    assert e.value.request_id == "req_fake_upstream"


def read_answer(sock: socket.socket, buf: bytearray, head_only: bool) -> tuple[str, dict, bytes]:
    """One answer off a raw socket: status line, headers, and the body its framing says (none
    for a HEAD's). What follows it stays in `buf` for the next answer."""

    def fill() -> None:
        data = sock.recv(65536)
        assert data, f"EOF mid-answer; have {bytes(buf)!r}"
        buf.extend(data)

    while b"\r\n\r\n" not in buf:
        fill()
    end = buf.index(b"\r\n\r\n")
    status, *lines = buf[:end].decode().split("\r\n")
    del buf[: end + 4]
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    if head_only:
        return status, headers, b""
    if headers.get("transfer-encoding") == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in buf:
                fill()
            size = int(buf[: buf.index(b"\r\n")], 16)
            del buf[: buf.index(b"\r\n") + 2]
            while len(buf) < size + 2:
                fill()
            body += buf[:size]
            del buf[: size + 2]
            if size == 0:
                return status, headers, bytes(body)
    n = int(headers["content-length"])
    while len(buf) < n:
        fill()
    body = bytes(buf[:n])
    del buf[:n]
    return status, headers, body


def test_head_is_answered_as_get_without_the_body(client, gateway, upstream):
    """HEAD on each stored-response GET route: the GET's status and headers (its length too, or
    its chunked framing for a replayed stream), no body bytes, and the connection goes on (the
    GET pipelined behind it parses). Upstream it is the GET, whose length the head needs."""
    r = created(client, "head me")
    sock = socket.create_connection((gateway.host, gateway.port), timeout=10)
    buf = bytearray()
    try:
        for path in [f"/v1/responses/{r.id}", f"/v1/responses/{r.id}/input_items", f"/v1/responses/{r.id}?stream=true"]:
            ask = "{} " + path + " HTTP/1.1\r\nhost: x\r\n\r\n"
            sock.sendall((ask.format("HEAD") + ask.format("GET")).encode())
            h_status, h_headers, _ = read_answer(sock, buf, head_only=True)
            g_status, g_headers, g_body = read_answer(sock, buf, head_only=False)
            assert h_status == g_status == "HTTP/1.1 200 OK", (path, h_status, g_status)
            assert g_body, path
            for name in ["content-type", "content-length", "transfer-encoding", "x-request-id"]:
                assert h_headers.get(name) == g_headers.get(name), (path, name, h_headers, g_headers)
            assert upstream.seen[-2][0] == "GET", upstream.seen[-2]
        assert b"response.completed" in g_body
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # nothing after the last GET's answer: no HEAD left a body behind
    finally:
        sock.close()


def test_methods_outside_the_routes_are_405(gateway):
    for method, path in [
        ("POST", "/v1/responses/resp_x"),
        ("GET", "/v1/responses/resp_x/cancel"),
        ("DELETE", "/v1/responses/resp_x/input_items"),
    ]:
        r = raw_request(gateway.base, method, path)
        assert r.status == 405, (method, path, r.status)
    assert raw_request(gateway.base, "GET", "/v1/responses/resp_x/other").status == 404


@pytest.mark.parametrize(
    "name, config, expect",
    [
        ("none", '[routing]\ndefault_provider = "mock"\n\n' + MOCK, "Sluice keeps no responses"),
        (
            "several",
            '[routing]\ndefault_provider = "mock"\n\n'
            + MOCK
            + openai_provider("a", "http://127.0.0.1:9")
            + openai_provider("b", "http://127.0.0.1:9"),
            "several OpenAI providers",
        ),
        (
            "chat-only",
            '[routing]\ndefault_provider = "mock"\n\n'
            + MOCK
            + openai_provider("a", "http://127.0.0.1:9")
            + "responses_api = false\n",
            "Sluice keeps no responses",
        ),
    ],
)
def test_without_one_provider_to_ask_it_is_a_404_that_says_why(tmp_path_factory, name, config, expect):
    server = start_gateway(tmp_path_factory.mktemp(f"stored-{name}"), f"sluice-stored-{name}", config)
    try:
        c = _openai_client(f"{server.base}/v1")
        with pytest.raises(openai.NotFoundError) as e:
            c.responses.retrieve("resp_123")
        assert expect in e.value.message, e.value.message
        c.close()
    finally:
        _teardown(server)


def test_the_default_provider_wins_among_several(upstream, tmp_path_factory):
    # Two OpenAI providers; the default one holds the responses (the other is unreachable).
    config = (
        '[routing]\ndefault_provider = "held"\n\n'
        + openai_provider("other", "http://127.0.0.1:9")
        + openai_provider("held", upstream.base)
    )
    server = start_gateway(tmp_path_factory.mktemp("stored-default"), "sluice-stored-default", config)
    try:
        c = _openai_client(f"{server.base}/v1")
        r = c.responses.create(model="held/gpt-4o-mini", input="default one", store=True)
        assert c.responses.retrieve(r.id).output_text == "stored: default one"
        c.close()
    finally:
        _teardown(server)


def test_routing_names_the_provider_that_holds_them(upstream, tmp_path_factory):
    # Two OpenAI providers, neither the default: `routing.stored_responses_provider` names the
    # one that holds the responses (the other is unreachable, so a wrong pick would fail).
    config = (
        '[routing]\ndefault_provider = "mock"\nstored_responses_provider = "held"\n\n'
        + MOCK
        + openai_provider("other", "http://127.0.0.1:9")
        + openai_provider("held", upstream.base)
    )
    server = start_gateway(tmp_path_factory.mktemp("stored-named"), "sluice-stored-named", config)
    try:
        c = _openai_client(f"{server.base}/v1")
        r = c.responses.create(model="held/gpt-4o-mini", input="named one", store=True)
        assert c.responses.retrieve(r.id).output_text == "stored: named one"
        assert [i.type for i in c.responses.input_items.list(r.id).data] == ["message"]
        assert upstream.seen[-1][:2] == ("GET", f"/v1/responses/{r.id}/input_items")
        c.close()
    finally:
        _teardown(server)
