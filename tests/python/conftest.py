"""Session fixtures: start sluice-mock and sluice on loopback ephemeral ports, hand out their URLs.

Binaries: $SLUICE_BIN / $SLUICE_MOCK_BIN, else <target dir>/debug/{sluice,sluice-mock} where the
target dir is $CARGO_TARGET_DIR or <repo>/target. Each process must print exactly
`listening on 127.0.0.1:PORT` on stdout once it accepts; startup and shutdown are time-bounded and
a process that dies or hangs fails the session with its stderr attached.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"^listening on (127\.0\.0\.1):(\d+)$")
START_TIMEOUT_S = float(os.environ.get("SLUICE_START_TIMEOUT", "30"))
STOP_TIMEOUT_S = 10.0

# The SDKs use httpx, which honours proxy variables: keep loopback traffic direct.
os.environ["NO_PROXY"] = ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")]))
os.environ["no_proxy"] = os.environ["NO_PROXY"]


def _binary(env_var: str, name: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        if not target.is_absolute():
            target = REPO / target
        path = target / "debug" / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{name} binary not found at {path} (build with `cargo build` or set ${env_var})",
            pytrace=False,
        )
    return path


@dataclass
class Server:
    """One started process and the loopback address it announced."""

    name: str
    proc: subprocess.Popen
    stderr_path: Path
    host: str = ""
    port: int = 0
    stdout_lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stderr_text(self, limit: int = 8000) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return "<no stderr captured>"
        return text[-limit:] if len(text) > limit else text

    def describe(self) -> str:
        out = "\n".join(self.stdout_lines[-50:])
        return (
            f"--- {self.name} stdout (last lines) ---\n{out}\n"
            f"--- {self.name} stderr (tail) ---\n{self.stderr_text()}"
        )


def _start(name: str, argv: list[str], workdir: Path) -> Server:
    stderr_path = workdir / f"{name}.stderr"
    stderr_file = open(stderr_path, "wb")
    env = dict(os.environ)
    env.setdefault("RUST_BACKTRACE", "1")
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        cwd=workdir,
        env=env,
    )
    stderr_file.close()
    server = Server(name=name, proc=proc, stderr_path=stderr_path)

    # Read stdout on a thread for the whole life of the process so the pipe never fills.
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            server.stdout_lines.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _stop(server)
            pytest.fail(
                f"{name} did not print `listening on 127.0.0.1:PORT` within {START_TIMEOUT_S}s\n"
                f"argv: {argv}\n{server.describe()}",
                pytrace=False,
            )
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            continue
        if line is None:
            # stdout closed: the process is exiting or has exited.
            try:
                code = proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _stop(server)
                code = proc.returncode
            pytest.fail(
                f"{name} closed stdout before listening (exit code {code})\n"
                f"argv: {argv}\n{server.describe()}",
                pytrace=False,
            )
        m = LISTEN_RE.match(line)
        if m:
            server.host, server.port = m.group(1), int(m.group(2))
            return server


def _stop(server: Server) -> str | None:
    """SIGTERM, then SIGKILL after a bound. Returns a problem description, or None if clean."""
    proc = server.proc
    if proc.poll() is not None:
        return f"{server.name} had already exited with code {proc.returncode} before teardown"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)
        return f"{server.name} ignored SIGTERM for {STOP_TIMEOUT_S}s and was killed"
    return None


def _teardown(server: Server) -> None:
    problem = _stop(server)
    if problem:
        pytest.fail(f"{problem}\n{server.describe()}", pytrace=False)


@pytest.fixture(scope="session")
def sluice_mock(tmp_path_factory) -> Server:
    """sluice-mock with default settings (4 chunks per stream, no latency, no failures)."""
    workdir = tmp_path_factory.mktemp("sluice-mock")
    argv = [str(_binary("SLUICE_MOCK_BIN", "sluice-mock")), "--listen", "127.0.0.1:0"]
    server = _start("sluice-mock", argv, workdir)
    yield server
    _teardown(server)


SLUICE_CONFIG = """\
[server]
listen = "127.0.0.1:0"
workers = 2

# Spare upstream connections on: every SDK test through an upstream then also runs over
# connections opened ahead of demand (the Rust tests cover the default, off).
[upstream]
pool_spare = 2

[routing]
default_provider = "mock"

[[providers]]
name = "mock"
kind = "mock"
models = ["mock-model"]

[[providers]]
name = "openai"
kind = "openai"
base_url = "{mock_base}"
keys = ["sk-upstream-test"]
models = ["gpt-4o-mini", "text-embedding-3-small"]

# One provider of every other kind, all answered by sluice-mock in that kind's own format
# (test_sdk_matrix.py). No `models`, so GET /v1/models stays as the OpenAI tests expect.
[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "{mock_base}"
keys = ["sk-ant-upstream-test"]

[[providers]]
name = "gemini"
kind = "gemini"
base_url = "{mock_base}"
keys = ["gemini-upstream-test"]

[[providers]]
name = "bedrock"
kind = "bedrock"
base_url = "{mock_base}"
keys = ["bedrock-api-key-test"]

[[providers]]
name = "cohere"
kind = "cohere"
base_url = "{mock_base}"
keys = ["cohere-upstream-test"]
"""


@pytest.fixture(scope="session")
def sluice(sluice_mock: Server, tmp_path_factory) -> Server:
    """The gateway, with the in-process mock as default provider and sluice-mock as `openai`."""
    workdir = tmp_path_factory.mktemp("sluice")
    config = workdir / "sluice.toml"
    config.write_text(SLUICE_CONFIG.format(mock_base=sluice_mock.base))
    argv = [str(_binary("SLUICE_BIN", "sluice")), "--config", str(config)]
    server = _start("sluice", argv, workdir)
    yield server
    _teardown(server)


def start_mock(workdir: Path, name: str, *args: str) -> Server:
    """A sluice-mock of its own on a loopback port, with extra arguments (`--latency-ms`, ...)."""
    argv = [str(_binary("SLUICE_MOCK_BIN", "sluice-mock")), "--listen", "127.0.0.1:0", *args]
    return _start(name, argv, workdir)


def one_provider(kind: str, base_url: str) -> str:
    """Config text routing everything to one provider of `kind` (named after it) at `base_url`."""
    return (
        f'[routing]\ndefault_provider = "{kind}"\n\n'
        f'[[providers]]\nname = "{kind}"\nkind = "{kind}"\nbase_url = "{base_url}"\nkeys = ["k"]\n'
    )


def start_gateway(workdir: Path, name: str, config: str, server_extra: str = "") -> Server:
    """A Sluice of its own: loopback, one worker, `server_extra` lines in `[server]`, then
    `config` (routing and providers)."""
    path = workdir / f"{name}.toml"
    path.write_text(f'[server]\nlisten = "127.0.0.1:0"\nworkers = 1\n{server_extra}\n{config}')
    return _start(name, [str(_binary("SLUICE_BIN", "sluice")), "--config", str(path)], workdir)


# ---- SDK clients -------------------------------------------------------------------------------

CLIENT_TIMEOUT_S = 30.0


def _openai_client(base_url: str):
    import openai

    # No retries: every test sees exactly one HTTP exchange, and error tests stay fast.
    return openai.OpenAI(
        base_url=base_url, api_key="sk-client-test", max_retries=0, timeout=CLIENT_TIMEOUT_S
    )


@pytest.fixture(scope="session")
def openai_client(sluice: Server):
    client = _openai_client(f"{sluice.base}/v1")
    yield client
    client.close()


@pytest.fixture(scope="session")
def openai_client_prefixed(sluice: Server):
    """Same gateway, reached through the /openai/v1 twin routes."""
    client = _openai_client(f"{sluice.base}/openai/v1")
    yield client
    client.close()


@pytest.fixture(scope="session")
def mock_client(sluice_mock: Server):
    """The SDK pointed straight at sluice-mock."""
    client = _openai_client(f"{sluice_mock.base}/v1")
    yield client
    client.close()


def bedrock_runtime(endpoint_url: str):
    """A boto3 `bedrock-runtime` client for `endpoint_url`: one attempt, dummy client credentials
    (Sluice signs its own upstream requests and does not check the client's signature)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIDCLIENT",
        aws_secret_access_key="client-secret",
        config=Config(retries={"max_attempts": 1}, read_timeout=CLIENT_TIMEOUT_S),
    )


# ---- raw HTTP (stdlib, no proxy, no SDK) for wire-level checks ---------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        import json

        return json.loads(self.body)


def raw_request(base: str, method: str, path: str, body=None) -> RawResponse:
    """One HTTP/1.1 exchange on loopback; `body` (if given) is sent as JSON. Reads to EOF/length."""
    import http.client
    import json
    from urllib.parse import urlsplit

    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=CLIENT_TIMEOUT_S)
    try:
        headers = {"authorization": "Bearer sk-client-test", "accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        return RawResponse(
            status=resp.status,
            headers={k.lower(): v for k, v in resp.getheaders()},
            body=payload,
        )
    finally:
        conn.close()


@pytest.fixture(scope="session")
def raw():
    return raw_request
