#!/usr/bin/env python3
"""Large bodies: does any request path cost more than linear time in the body's size?

A worker is one thread per core: a request that takes seconds of CPU stalls every connection on
that core. Each shape below (many messages, parts, tools, top-level keys, stop sequences, tool
calls with their results, ...) is sent from every client format (Responses API too) to every
provider kind, at N items and at 4N, through a gateway with one worker in front of sluice-mock
(and its in-process mock). Linear work takes about 4x as long at 4N; quadratic work about 16x. A
pair whose 4N run takes more than 8x as long, and over half a second, is reported as SUPERLINEAR
(exit status 1).

Traffic goes to 127.0.0.1 only; every request is bounded (curl --max-time), and the gateway and
mock are stopped at the end. Usage (after `cargo build --release`):

    python3 loadtest/large_bodies.py                 # N = 100000 (4N bodies up to ~26 MB)
    N=20000 FORMATS=openai,gemini python3 loadtest/large_bodies.py [shape ...]

With BODIES_DIR set, it only writes every client's 4N bodies there (`CLIENT-SHAPE.json`) and
stops: inputs for `cargo run --release --example peak_memory` (bench/peak_memory.rs).

A pair over the bound is measured again and judged on the faster run of each size (a noisy
machine's one slow run is not a finding).

Binaries: $SLUICE_BIN and $SLUICE_MOCK_BIN, else target/release/{sluice,sluice-mock}.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from scaling import free_port, superlinear, verdict, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "target/release/sluice"))
MOCK = os.environ.get("SLUICE_MOCK_BIN", os.path.join(ROOT, "target/release/sluice-mock"))
N = int(os.environ.get("N", "100000"))
MAX_SECONDS = 60

TARGETS = {
    "openai": "openai/gpt-4o-mini",
    "anthropic": "anthropic/claude-sonnet-4",
    "gemini": "gemini/gemini-2.5-flash",
    "bedrock": "bedrock/anthropic.claude-3-haiku",
    "cohere": "cohere/command-r",
    "mock": "mock-model",
}


def alternate(i):
    return ["user", "assistant"][i % 2]


def openai_bodies(model, n):
    user = [{"role": "user", "content": "hi"}]
    yield "messages", {"model": model, "messages": [{"role": alternate(i), "content": f"m{i}"} for i in range(n)]}
    yield "parts", {"model": model, "messages": [{"role": "user", "content": [{"type": "text", "text": f"t{i}"} for i in range(n)]}]}
    yield "system", {"model": model, "messages": [{"role": "system", "content": f"s{i}"} for i in range(n)] + user}
    yield "top_keys", dict({"model": model, "messages": user}, **{f"x{i}": i for i in range(n)})
    yield "stops", {"model": model, "messages": user, "stop": [f"s{i}" for i in range(n)]}
    yield "tools", {"model": model, "messages": user, "tools": [
        {"type": "function", "function": {"name": f"f{i}", "parameters": {"type": "object"}}} for i in range(n // 2)]}
    yield "calls", {"model": model, "messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{i}", "type": "function", "function": {"name": f"f{i % 7}", "arguments": "{}"}} for i in range(n // 2)]}]
        + [{"role": "tool", "tool_call_id": f"c{n // 2 - 1 - i}", "content": "r"} for i in range(n // 2)]}
    # Calls of as many tools as calls, none declared (Converse then declares each from the history).
    yield "named_calls", {"model": model, "messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{i}", "type": "function", "function": {"name": f"f{i}", "arguments": "{}"}} for i in range(n // 4)]}]
        + [{"role": "tool", "tool_call_id": f"c{i}", "content": "r"} for i in range(n // 4)]}
    # Every tool allowed by name, in the other order (checked against the declared tools, narrowed).
    yield "allowed", {"model": model, "messages": user, "tools": [
        {"type": "function", "function": {"name": f"f{i}", "parameters": {"type": "object"}}} for i in range(n // 4)],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
            {"type": "function", "function": {"name": f"f{n // 4 - 1 - i}"}} for i in range(n // 4)]}}}


def responses_bodies(model, n):
    user = [{"role": "user", "content": "hi"}]
    yield "messages", {"model": model, "input": [{"role": alternate(i), "content": f"m{i}"} for i in range(n)]}
    yield "parts", {"model": model, "input": [{"role": "user", "content": [{"type": "input_text", "text": f"t{i}"} for i in range(n)]}]}
    yield "system", {"model": model, "input": [{"role": "developer", "content": f"s{i}"} for i in range(n)] + user}
    yield "top_keys", dict({"model": model, "input": user}, **{f"x{i}": i for i in range(n)})
    yield "tools", {"model": model, "input": user, "tools": [
        {"type": "function", "name": f"f{i}", "parameters": {"type": "object"}} for i in range(n // 2)]}
    # A coding agent's loop: calls, then their results in the other order.
    yield "calls", {"model": model, "input": [{"role": "user", "content": "go"}]
        + [{"type": "function_call", "call_id": f"c{i}", "name": f"f{i % 7}", "arguments": "{}"} for i in range(n // 2)]
        + [{"type": "function_call_output", "call_id": f"c{n // 2 - 1 - i}", "output": "r"} for i in range(n // 2)]}


def anthropic_bodies(model, n):
    base = {"model": model, "max_tokens": 5}
    yield "messages", dict(base, messages=[{"role": alternate(i), "content": f"m{i}"} for i in range(n)])
    yield "system", dict(base, system=[{"type": "text", "text": f"s{i}"} for i in range(n)], messages=[{"role": "user", "content": "hi"}])
    yield "blocks", dict(base, messages=[{"role": "user", "content": [{"type": "text", "text": f"t{i}"} for i in range(n)]}])
    yield "block_keys", dict(base, messages=[{"role": "user", "content": [dict({"type": "text", "text": "t"}, **{f"x{i}": i for i in range(n)})]}])
    yield "calls", dict(base, messages=[{"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": f"c{i}", "name": f"f{i % 7}", "input": {}} for i in range(n // 2)]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"c{n // 2 - 1 - i}", "content": "r"} for i in range(n // 2)]}])
    yield "unanswered", dict(base, messages=[{"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": f"c{i}", "name": "f", "input": {}} for i in range(n // 2)]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"other{i}", "content": "r"} for i in range(n // 2)]}])
    # Small untitled text documents (Converse wants every document named, each name distinct).
    yield "documents", dict(base, messages=[{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}} for i in range(n // 4)]}])


def gemini_bodies(model, n):
    yield "contents", {"contents": [{"role": ["user", "model"][i % 2], "parts": [{"text": f"m{i}"}]} for i in range(n)]}
    yield "parts", {"contents": [{"role": "user", "parts": [{"text": f"t{i}"} for i in range(n)]}]}
    yield "tools", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                    "tools": [{"functionDeclarations": [{"name": f"f{i}", "parameters": {"type": "object"}} for i in range(n // 2)]}]}
    yield "calls", {"contents": [{"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}} for i in range(n // 2)]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"r": 1}}} for i in range(n // 2)]}]}
    yield "calls_ids", {"contents": [{"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"functionCall": {"id": f"c{i}", "name": f"f{i % 7}", "args": {}}} for i in range(n // 2)]},
        {"role": "user", "parts": [{"functionResponse": {"id": f"c{n // 2 - 1 - i}", "name": f"f{(n // 2 - 1 - i) % 7}", "response": {"r": 1}}}
                                   for i in range(n // 2)]}]}
    # Mode ANY with every declared function allowed, in the other order.
    yield "allowed", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                      "tools": [{"functionDeclarations": [{"name": f"f{i}", "parameters": {"type": "object"}} for i in range(n // 4)]}],
                      "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [f"f{n // 4 - 1 - i}" for i in range(n // 4)]}}}


def converse_bodies(model, n):
    tools = {"tools": [{"toolSpec": {"name": f"f{i}", "inputSchema": {"json": {"type": "object"}}}} for i in range(7)]}
    yield "messages", {"messages": [{"role": alternate(i), "content": [{"text": f"m{i}"}]} for i in range(n)]}
    yield "blocks", {"messages": [{"role": "user", "content": [{"text": f"t{i}"} for i in range(n)]}]}
    yield "system", {"system": [{"text": f"s{i}"} for i in range(n)], "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    yield "tools", {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "toolConfig": {"tools": [
        {"toolSpec": {"name": f"f{i}", "inputSchema": {"json": {"type": "object"}}}} for i in range(n // 2)]}}
    yield "calls", {"toolConfig": tools, "messages": [{"role": "user", "content": [{"text": "go"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": f"c{i}", "name": f"f{i % 7}", "input": {}}} for i in range(n // 2)]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": f"c{n // 2 - 1 - i}", "content": [{"text": "r"}]}} for i in range(n // 2)]}]}


def cohere_bodies(model, n):
    yield "messages", {"model": model, "messages": [{"role": alternate(i), "content": f"m{i}"} for i in range(n)]}
    yield "tools", {"model": model, "messages": [{"role": "user", "content": "hi"}], "tools": [
        {"type": "function", "function": {"name": f"f{i}", "parameters": {"type": "object"}}} for i in range(n // 2)]}
    yield "calls", {"model": model, "messages": [{"role": "user", "content": "go"}, {"role": "assistant", "tool_calls": [
        {"id": f"c{i}", "type": "function", "function": {"name": f"f{i % 7}", "arguments": "{}"}} for i in range(n // 2)]}]
        + [{"role": "tool", "tool_call_id": f"c{n // 2 - 1 - i}", "content": "r"} for i in range(n // 2)]}


FORMATS = [
    ("openai", "/v1/chat/completions", openai_bodies),
    ("responses", "/v1/responses", responses_bodies),
    ("anthropic", "/anthropic/v1/messages", anthropic_bodies),
    ("gemini", "/genai/v1beta/models/{model}:generateContent", gemini_bodies),
    ("converse", "/bedrock/model/{model}/converse", converse_bodies),
    ("cohere", "/cohere/v2/chat", cohere_bodies),
]


def post(port, route, body_path):
    """(status, seconds) of one request."""
    start = time.time()
    out = subprocess.run(
        ["curl", "-s", "-o", os.devnull, "-w", "%{http_code}", "--max-time", str(MAX_SECONDS),
         "-H", "content-type: application/json", "-H", "anthropic-version: 2023-06-01",
         "-H", "x-api-key: k", "-H", "authorization: Bearer k",
         "--data-binary", f"@{body_path}", f"http://127.0.0.1:{port}{route}"],
        capture_output=True, text=True)
    return out.stdout or "timeout", time.time() - start


def write_bodies(directory, only_shapes, only_formats):
    os.makedirs(directory, exist_ok=True)
    for client, _, bodies in FORMATS:
        if only_formats and client not in only_formats:
            continue
        for shape, body in bodies("model", 4 * N):
            if not only_shapes or shape in only_shapes:
                with open(os.path.join(directory, f"{client}-{shape}.json"), "w") as f:
                    json.dump(body, f, separators=(",", ":"))


def main():
    only_shapes = set(sys.argv[1:])
    only_formats = set(filter(None, os.environ.get("FORMATS", "").split(",")))
    if os.environ.get("BODIES_DIR"):
        return write_bodies(os.environ["BODIES_DIR"], only_shapes, only_formats)
    work = tempfile.mkdtemp(prefix="sluice-large-bodies-")
    mock_port, port = free_port(), free_port()
    config = f"""
[server]
listen = "127.0.0.1:{port}"
workers = 1
[upstream]
total_timeout_ms = {MAX_SECONDS * 1000}
[routing]
default_provider = "mock"
[[providers]]
name = "mock"
kind = "mock"
models = ["mock-model"]
"""
    for kind in ["openai", "anthropic", "gemini", "bedrock", "cohere"]:
        config += f'[[providers]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "http://127.0.0.1:{mock_port}"\nkeys = ["k"]\n'
    config_path = os.path.join(work, "sluice.toml")
    with open(config_path, "w") as f:
        f.write(config)
    procs = [
        subprocess.Popen([MOCK, "--listen", f"127.0.0.1:{mock_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([SLUICE, "--config", config_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    flagged = []
    try:
        wait_for(mock_port)
        wait_for(port)
        print(f"{'client':9} {'provider':9} {'shape':11} {'MB at 4N':>8} {'N s':>6} {'4N s':>6} {'ratio':>6}  status")
        for client, route, bodies in FORMATS:
            if only_formats and client not in only_formats:
                continue
            for provider, model in TARGETS.items():
                path = route.replace("{model}", model)
                small = dict(bodies(model, N))
                large = dict(bodies(model, 4 * N))
                for shape in small:
                    if only_shapes and shape not in only_shapes:
                        continue
                    paths = []
                    for n, body in (("n", small[shape]), ("4n", large[shape])):
                        body_path = os.path.join(work, f"body-{n}.json")
                        data = json.dumps(body, separators=(",", ":"))
                        with open(body_path, "w") as f:
                            f.write(data)
                        paths.append(body_path)
                    size = len(data)
                    (s1, t1), (s4, t4) = (post(port, path, b) for b in paths)
                    if s4 != "timeout" and superlinear(t1, t4):
                        (_, again1), (_, again4) = (post(port, path, b) for b in paths)
                        t1, t4 = min(t1, again1), min(t4, again4)
                    ratio = t4 / max(t1, 1e-3)
                    bad = s4 == "timeout" or superlinear(t1, t4)
                    if bad:
                        flagged.append(f"{client} -> {provider} {shape}")
                    print(f"{client:9} {provider:9} {shape:11} {size / 1e6:8.1f} {t1:6.2f} {t4:6.2f} {ratio:6.1f}  {s1}/{s4}"
                          + ("  SUPERLINEAR" if bad else ""), flush=True)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    verdict(flagged, "path")


if __name__ == "__main__":
    main()
