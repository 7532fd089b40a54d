#!/usr/bin/env python3
"""Large streams: does translating a stream cost more than linear time in its number of calls?

The answer-side counterpart of `large_bodies.py`. A canned upstream on 127.0.0.1 streams an
answer of N tool calls (as Anthropic's Messages API or OpenAI's Chat Completions would), and
each client format asks for it as a stream through a gateway with one worker, at N and at 4N
calls. Linear work takes about 4x as long at 4N; a scan of every earlier call per event makes
it about 16x. A pair whose 4N run takes more than 8x as long, and over half a second, on the
faster of two tries, is reported as SUPERLINEAR (exit status 1).

Traffic goes to 127.0.0.1 only; each request is bounded (curl --max-time), and the gateway
and upstream stop at the end. Usage (after `cargo build --release`):

    python3 loadtest/large_streams.py             # N = 20000 calls (4N streams up to ~80 MB)
    N=5000 python3 loadtest/large_streams.py

Binary: $SLUICE_BIN, else target/release/sluice.
"""
import json
import os
import re
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from scaling import free_port, superlinear, verdict, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "target/release/sluice"))
N = int(os.environ.get("N", "20000"))
MAX_SECONDS = 120


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def anthropic_stream(n, pattern=("tool",), tail=(), deltas=1):
    """`pattern`'s blocks N times over, then `tail`'s once, each block stopped before the next
    starts and given `deltas` deltas. Kinds: tool (a call), text, thinking (with a signature)."""
    event = lambda name, obj: f"event: {name}\ndata: {compact(obj)}\n\n"
    out = [event("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [],
        "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 1}}})]
    starts = {"tool": lambda i: {"type": "tool_use", "id": f"toolu_{i}", "name": "f", "input": {}},
              "text": lambda i: {"type": "text", "text": ""},
              "thinking": lambda i: {"type": "thinking", "thinking": ""}}
    bodies = {"tool": [{"type": "input_json_delta", "partial_json": '{"a":"'}] + [
                  {"type": "input_json_delta", "partial_json": "x"}] * (deltas - 1) + [
                  {"type": "input_json_delta", "partial_json": '"}'}],
              "text": [{"type": "text_delta", "text": "word "}] * deltas,
              "thinking": [{"type": "thinking_delta", "thinking": "hmm "}] * deltas + [
                  {"type": "signature_delta", "signature": "c2ln"}]}
    for i, kind in enumerate([k for _ in range(n) for k in pattern] + list(tail)):
        out.append(event("content_block_start", {"type": "content_block_start", "index": i, "content_block": starts[kind](i)}))
        for delta in bodies[kind]:
            out.append(event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        out.append(event("content_block_stop", {"type": "content_block_stop", "index": i}))
    stop = "tool_use" if "tool" in pattern + tuple(tail) else "end_turn"
    out.append(event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 9}}))
    out.append(event("message_stop", {"type": "message_stop"}))
    return "".join(out).encode()


def openai_stream(n, long=False, parallel=False):
    """N tool calls; `long`: N text deltas, then one call whose arguments come in N deltas;
    `parallel`: every call's start first, then each one's arguments (interleaved calls)."""
    chunk = lambda delta, finish=None: "data: " + compact({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"
    out = [chunk({"role": "assistant", "content": None})]
    if long:
        out += [chunk({"content": "word "})] * n
        out.append(chunk({"tool_calls": [{"index": 0, "id": "call_0", "type": "function",
                                          "function": {"name": "f", "arguments": '{"a":"'}}]}))
        out += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": "x"}}]})] * n
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]}))
    start = lambda i: chunk({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                             "function": {"name": "f", "arguments": ""}}]})
    arguments = lambda i: chunk({"tool_calls": [{"index": i, "function": {"arguments": '{"a":1}'}}]})
    calls = 0 if long else n
    if parallel:
        out += [start(i) for i in range(calls)] + [arguments(i) for i in range(calls)]
    else:
        out += [piece for i in range(calls) for piece in (start(i), arguments(i))]
    out.append(chunk({}, "tool_calls"))
    out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def gemini_stream(n):
    """N text chunks, each followed by a call chunk; the finish and usage on the last."""
    chunk = lambda parts, tail=None: "data: " + compact({
        "candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0, **(tail or {})}],
        "modelVersion": "gem", "responseId": "r1"}) + "\r\n\r\n"
    out = []
    for i in range(n):
        out.append(chunk([{"text": "word "}]))
        out.append(chunk([{"functionCall": {"name": "f", "args": {"a": i}}}]))
    out.append(chunk([{"text": ""}], {"finishReason": "STOP"}))
    return "".join(out).encode()


def cohere_stream(n):
    """N text blocks, each followed by a tool call (Cohere numbers the two kinds apart)."""
    event = lambda obj: f"event: {obj['type']}\ndata: {compact(obj)}\n\n"
    out = [event({"id": "c1", "type": "message-start", "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}})]
    for i in range(n):
        out.append(event({"type": "content-start", "index": i, "delta": {"message": {"content": {"type": "text", "text": ""}}}}))
        out.append(event({"type": "content-delta", "index": i, "delta": {"message": {"content": {"text": "word "}}}}))
        out.append(event({"type": "content-end", "index": i}))
        out.append(event({"type": "tool-call-start", "index": i, "delta": {"message": {"tool_calls": {
            "id": f"c_{i}", "type": "function", "function": {"name": "f", "arguments": ""}}}}}))
        out.append(event({"type": "tool-call-delta", "index": i, "delta": {"message": {"tool_calls": {
            "function": {"arguments": '{"a":1}'}}}}}))
        out.append(event({"type": "tool-call-end", "index": i}))
    usage = {"input_tokens": 5, "output_tokens": 9}
    out.append(event({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL",
                                                       "usage": {"billed_units": usage, "tokens": usage}}}))
    return "".join(out).encode()


def event_stream_frame(event_type, payload):
    """One AWS event-stream message (PROTOCOLS 6.1): prelude, its CRC, headers, payload, CRC."""
    headers = b"".join(bytes([len(name)]) + name + b"\x07" + struct.pack(">H", len(value)) + value
                       for name, value in ((b":event-type", event_type.encode()),
                                           (b":content-type", b"application/json"),
                                           (b":message-type", b"event")))
    payload = compact(payload).encode()
    prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def bedrock_stream(n):
    """ConverseStream: N reasoning, text and tool-use blocks in turn."""
    out = [event_stream_frame("messageStart", {"role": "assistant"})]
    for i in range(0, 3 * n, 3):
        out.append(event_stream_frame("contentBlockDelta", {"contentBlockIndex": i, "delta": {"reasoningContent": {"text": "hmm "}}}))
        out.append(event_stream_frame("contentBlockDelta", {"contentBlockIndex": i, "delta": {"reasoningContent": {"signature": "c2ln"}}}))
        out.append(event_stream_frame("contentBlockStop", {"contentBlockIndex": i}))
        out.append(event_stream_frame("contentBlockDelta", {"contentBlockIndex": i + 1, "delta": {"text": "word "}}))
        out.append(event_stream_frame("contentBlockStop", {"contentBlockIndex": i + 1}))
        out.append(event_stream_frame("contentBlockStart", {"contentBlockIndex": i + 2, "start": {"toolUse": {"toolUseId": f"t_{i}", "name": "f"}}}))
        out.append(event_stream_frame("contentBlockDelta", {"contentBlockIndex": i + 2, "delta": {"toolUse": {"input": '{"a":1}'}}}))
        out.append(event_stream_frame("contentBlockStop", {"contentBlockIndex": i + 2}))
    out.append(event_stream_frame("messageStop", {"stopReason": "tool_use"}))
    out.append(event_stream_frame("metadata", {"usage": {"inputTokens": 5, "outputTokens": 9, "totalTokens": 14},
                                               "metrics": {"latencyMs": 1}}))
    return b"".join(out)


# Upstream shapes by the model asked for. A client format's encoder may hold calls until what
# follows them (Gemini's does, until text or the end), so one shape ends with text; others mix
# the kinds of block, or put every delta in one block.
UPSTREAMS = {
    "anthropic": ("anthropic/claude", anthropic_stream),
    "anth+text": ("anthropic/claude-text", lambda n: anthropic_stream(n, tail=("text",))),
    "anth-mix": ("anthropic/claude-mix", lambda n: anthropic_stream(n, pattern=("thinking", "text", "tool"))),
    "anth-long": ("anthropic/claude-long", lambda n: anthropic_stream(1, pattern=("thinking", "text", "tool"), deltas=n)),
    "openai": ("openai/gpt", openai_stream),
    "oai-long": ("openai/gpt-long", lambda n: openai_stream(n, long=True)),
    "oai-par": ("openai/gpt-par", lambda n: openai_stream(n, parallel=True)),
    "gemini": ("gemini/gem-mix", gemini_stream),
    "cohere": ("cohere/co-mix", cohere_stream),
    "bedrock": ("bedrock/br-mix", bedrock_stream),
}
CONTENT_TYPES = {"bedrock": "application/vnd.amazon.eventstream"}


def clients(model):
    user = [{"role": "user", "content": "go"}]
    return {
        "openai": ("/v1/chat/completions", {"model": model, "stream": True, "messages": user}),
        "anthropic": ("/anthropic/v1/messages", {"model": model, "stream": True, "max_tokens": 5, "messages": user}),
        "gemini": (f"/genai/v1beta/models/{model}:streamGenerateContent?alt=sse",
                   {"contents": [{"role": "user", "parts": [{"text": "go"}]}]}),
        "converse": (f"/bedrock/model/{model.replace('/', '%2F')}/converse-stream",
                     {"messages": [{"role": "user", "content": [{"text": "go"}]}]}),
        "cohere": ("/cohere/v2/chat", {"model": model, "stream": True, "messages": user}),
        "responses": ("/v1/responses", {"model": model, "stream": True, "input": "go"}),
        "invoke-an": (f"/bedrock/model/{model.replace('/', '%2F')}/invoke-with-response-stream",
                      {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": user}),
        "invoke-oa": (f"/bedrock/model/{model.replace('/', '%2F')}/invoke-with-response-stream", {"messages": user}),
        "cohere-v1": ("/cohere/v1/chat", {"model": model, "stream": True, "message": "go"}),
        "complete": ("/v1/completions", {"model": model, "stream": True, "prompt": "go", "max_tokens": 5}),
    }


class Upstream(BaseHTTPRequestHandler):
    """Answers every POST with the stream of `UPSTREAMS` for the model asked for, at `server.n` calls."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        # The model is in the body, or in the path (Gemini's `/models/M:...`, Bedrock's `/model/M/...`).
        in_path = re.search(r"/models?/([^/:]+)[/:]", self.path)
        model = body.get("model") or urllib.parse.unquote(in_path.group(1))
        kind = next(kind for kind, (name, _) in UPSTREAMS.items() if name.split("/")[1] == model)
        body = self.server.bodies[(kind, self.server.n)]
        self.send_response(200)
        self.send_header("content-type", CONTENT_TYPES.get(kind, "text/event-stream"))
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    upstream.bodies = {(kind, n): make(n) for kind, (_, make) in UPSTREAMS.items() for n in (N, 4 * N)}
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    config = f"""
[server]
listen = "127.0.0.1:{port}"
workers = 1
[upstream]
total_timeout_ms = {MAX_SECONDS * 1000}
[routing]
default_provider = "anthropic"
"""
    for kind in ("anthropic", "openai", "gemini", "cohere", "bedrock"):
        config += f'[[providers]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "http://127.0.0.1:{upstream.server_address[1]}"\nkeys = ["k"]\n'
    work = tempfile.mkdtemp(prefix="sluice-large-streams-")
    config_path = os.path.join(work, "sluice.toml")
    with open(config_path, "w") as f:
        f.write(config)
    gateway = subprocess.Popen([SLUICE, "--config", config_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def fetch(route, body, n):
        """(status, bytes, seconds) of one streamed answer of n calls."""
        upstream.n = n
        start = time.time()
        out = subprocess.run(
            ["curl", "-s", "-o", os.devnull, "-w", "%{http_code} %{size_download}", "--max-time", str(MAX_SECONDS),
             "-H", "content-type: application/json", "-H", "anthropic-version: 2023-06-01",
             "-H", "x-api-key: k", "-H", "authorization: Bearer k",
             "--data-binary", compact(body), f"http://127.0.0.1:{port}{route}"],
            capture_output=True, text=True)
        status, size = (out.stdout.split() + ["timeout", "0"])[:2]
        return status, int(size), time.time() - start

    flagged = []
    try:
        wait_for(port)
        print(f"{'upstream':9} {'client':9} {'MB at 4N':>8} {'N s':>6} {'4N s':>6} {'ratio':>6}  status")
        for kind, (model, _) in UPSTREAMS.items():
            for client, (route, body) in clients(model).items():
                (s1, _, t1), (s4, size, t4) = fetch(route, body, N), fetch(route, body, 4 * N)
                if s4 == "200" and superlinear(t1, t4):
                    t1 = min(t1, fetch(route, body, N)[2])
                    t4 = min(t4, fetch(route, body, 4 * N)[2])
                bad = s1 != "200" or s4 != "200" or superlinear(t1, t4)
                if bad:
                    flagged.append(f"{kind} -> {client}")
                print(f"{kind:9} {client:9} {size / 1e6:8.1f} {t1:6.2f} {t4:6.2f} {t4 / max(t1, 1e-3):6.1f}  {s1}/{s4}"
                      + ("  SUPERLINEAR" if bad else ""), flush=True)
    finally:
        gateway.kill()
        gateway.wait()
        upstream.shutdown()
    verdict(flagged, "stream")


if __name__ == "__main__":
    main()
