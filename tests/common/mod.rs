//! Helpers for the black-box integration tests: start the real `sluice` and `sluice-mock`
//! binaries on loopback ephemeral ports, and talk raw HTTP/1.1 to them over `std::net`.
//!
//! Every wait is bounded: process start-up, socket reads and writes, and polling loops all have a
//! deadline, and every child process is stopped (SIGTERM, then SIGKILL) when its guard drops.

#![allow(dead_code)]

pub mod mutate;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

/// Bound on any single socket read or write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on a process announcing its address.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a stopping process gets after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

pub const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
pub const SLUICE_MOCK: &str = env!("CARGO_BIN_EXE_sluice-mock");

// ---------------------------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("sluice-it-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Replaces a file atomically (write a sibling, then rename), as editors and config tools do.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write temp config");
    std::fs::rename(&tmp, path).expect("rename config into place");
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/// A started server process. Dropping it sends SIGTERM, waits up to `STOP_GRACE`, then kills.
pub struct Proc {
    pub name: &'static str,
    child: Option<Child>,
    pub addr: SocketAddr,
    stderr_path: PathBuf,
    /// Holds the stderr log and (for sluice) the config file; removed after the process stops.
    pub dir: TempDir,
}

impl Proc {
    /// Spawns `bin args...`, waits (bounded) for `listening on ADDR` on stdout.
    pub fn spawn(name: &'static str, bin: &str, args: &[&str], dir: TempDir) -> Proc {
        let stderr_path = dir.file(&format!("{name}.stderr"));
        let stderr = File::create(&stderr_path).expect("create stderr log");
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        // Safety net: if the test process dies without running destructors, the child follows.
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        std::thread::spawn(move || {
            // Keep reading to EOF so the child can never block on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.trim().strip_prefix("listening on ") {
                    if let Ok(addr) = a.parse() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let mut p = Proc {
            name,
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr_path,
            dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => {
                    assert!(addr.ip().is_loopback(), "{name} listens on {addr}, not loopback");
                    p.addr = addr;
                    return p;
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Some(st) = p.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                        panic!("{name} exited with {st} before listening; stderr:\n{}", p.stderr());
                    }
                }
                Err(_) => panic!(
                    "{name} did not announce its address within {START_TIMEOUT:?}; stderr:\n{}",
                    p.stderr()
                ),
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("process still owned").id() as i32
    }

    /// Sends a signal (e.g. `libc::SIGHUP`).
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(
            r,
            0,
            "kill({}, {sig}) failed: {}",
            self.pid(),
            io::Error::last_os_error()
        );
    }

    /// Waits (bounded) for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Polls stderr until it contains `needle` `count` times (bounded).
    pub fn wait_stderr(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        poll(timeout, || {
            (self.stderr().matches(needle).count() >= count).then_some(())
        })
        .is_some()
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `sluice-mock --listen 127.0.0.1:0 <args>`.
pub fn start_mock(args: &[&str]) -> Proc {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Proc::spawn("sluice-mock", SLUICE_MOCK, &all, TempDir::new("mock"))
}

/// Starts `sluice --config <dir>/sluice.toml` with this config text.
pub fn start_sluice(config: &str) -> Proc {
    let dir = TempDir::new("sluice");
    let path = dir.file("sluice.toml");
    std::fs::write(&path, config).expect("write config");
    let path_s = path.to_str().expect("utf-8 temp path").to_string();
    Proc::spawn("sluice", SLUICE, &["--config", &path_s], dir)
}

/// The config file of a process started with `start_sluice`.
pub fn config_path(p: &Proc) -> PathBuf {
    p.dir.file("sluice.toml")
}

/// A sluice config: loopback ephemeral port, one worker, an in-process `mock` provider and
/// (when `upstream` is set) an `openai` provider pointing at a sluice-mock.
pub struct Cfg<'a> {
    /// Extra lines for `[server]`.
    pub server_extra: &'a str,
    pub default_provider: &'a str,
    pub upstream: Option<SocketAddr>,
    pub mock_models: &'a [&'a str],
    pub openai_models: &'a [&'a str],
    /// Extra lines for the mock provider (e.g. `mock_chunks = 3`).
    pub mock_extra: &'a str,
    /// Lines for an `[upstream]` section (none when empty).
    pub upstream_extra: &'a str,
}

impl Default for Cfg<'_> {
    fn default() -> Self {
        Cfg {
            server_extra: "",
            default_provider: "mock",
            upstream: None,
            mock_models: &["mock-model"],
            openai_models: &["gpt-4o-mini"],
            mock_extra: "",
            upstream_extra: "",
        }
    }
}

fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|m| format!("{m:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

impl Cfg<'_> {
    pub fn render(&self) -> String {
        let mut s = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\ndrain_timeout_ms = 3000\nwatch_interval_ms = 100\n{}\n\n\
             [routing]\ndefault_provider = {:?}\n\n\
             [[providers]]\nname = \"mock\"\nkind = \"mock\"\nmodels = {}\n{}\n",
            self.server_extra,
            self.default_provider,
            toml_list(self.mock_models),
            self.mock_extra,
        );
        if !self.upstream_extra.is_empty() {
            s.push_str(&format!("\n[upstream]\n{}\n", self.upstream_extra));
        }
        if let Some(up) = self.upstream {
            s.push_str(&format!(
                "\n[[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"http://{up}\"\nkeys = [\"sk-test\"]\nmodels = {}\n",
                toml_list(self.openai_models)
            ));
        }
        s
    }
}

/// `cfg` (its in-process mock) plus a provider of every kind at `upstream`, each named after its
/// kind (`cfg.upstream` should be None: its `openai` provider would be named twice).
pub fn config_with(upstream: SocketAddr, cfg: Cfg) -> String {
    let mut s = cfg.render();
    for kind in ["openai", "anthropic", "gemini", "bedrock", "cohere"] {
        s.push_str(&format!(
            "\n[[providers]]\nname = \"{kind}\"\nkind = \"{kind}\"\nbase_url = \"http://{upstream}\"\nkeys = [\"k\"]\n"
        ));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
    /// For a chunked body: each chunk's data, in order (the terminator not included).
    pub chunks: Option<Vec<Vec<u8>>>,
}

impl Response {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        sonic_rs::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): status {} body {:?}", self.status, self.text()))
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A status line and headers, without the body.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
}

/// One client connection with its own read buffer (so pipelined responses are split correctly).
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::try_connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
    }

    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write {} bytes: {e}", bytes.len()));
    }

    /// Bytes received but not consumed by any response yet.
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }

    /// Reads more bytes into the buffer; `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(n)
            }
            Err(e) if timed_out(&e) => Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out")),
            Err(e) => Err(e),
        }
    }

    fn fill_or_eof_err(&mut self, what: &str) -> io::Result<()> {
        match self.fill()? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "EOF while reading {what}; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            )),
            _ => Ok(()),
        }
    }

    fn take_line(&mut self, what: &str) -> io::Result<String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                return String::from_utf8(line)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "non-UTF-8 line"));
            }
            if self.buf.len() > 1 << 20 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{what}: line too long"),
                ));
            }
            self.fill_or_eof_err(what)?;
        }
    }

    fn take_exact(&mut self, n: usize, what: &str) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill_or_eof_err(what)?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads a status line and headers.
    pub fn try_read_head(&mut self) -> io::Result<Head> {
        let status_line = self.take_line("status line")?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if version != "HTTP/1.1" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            ));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let line = self.take_line("header")?;
            if line.is_empty() {
                break;
            }
            let (n, v) = line
                .split_once(':')
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad header line {line:?}")))?;
            headers.push((n.to_string(), v.trim().to_string()));
        }
        Ok(Head {
            status,
            reason,
            headers,
        })
    }

    pub fn read_head(&mut self) -> Head {
        self.try_read_head()
            .unwrap_or_else(|e| panic!("reading response head: {e}"))
    }

    /// Reads one chunk of a chunked body: `Some(data)`, or `None` for the terminator (after
    /// which the trailers, if any, and the final CRLF have been consumed).
    pub fn try_read_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let line = self.take_line("chunk size")?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            loop {
                if self.take_line("trailer")?.is_empty() {
                    return Ok(None);
                }
            }
        }
        let data = self.take_exact(size, "chunk data")?;
        let crlf = self.take_exact(2, "chunk CRLF")?;
        if crlf != b"\r\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("chunk data not followed by CRLF: {crlf:?}"),
            ));
        }
        Ok(Some(data))
    }

    pub fn read_chunk(&mut self) -> Option<Vec<u8>> {
        self.try_read_chunk().unwrap_or_else(|e| panic!("reading chunk: {e}"))
    }

    /// Reads the body that follows `head` (`no_body` for HEAD requests and the like).
    pub fn try_read_body(&mut self, head: Head, no_body: bool) -> io::Result<Response> {
        let Head {
            status,
            reason,
            headers,
        } = head;
        let mut resp = Response {
            status,
            reason,
            headers,
            body: Vec::new(),
            chunks: None,
        };
        if no_body || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(resp);
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            if resp.header("content-length").is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "both content-length and chunked",
                ));
            }
            let mut chunks = Vec::new();
            while let Some(c) = self.try_read_chunk()? {
                resp.body.extend_from_slice(&c);
                chunks.push(c);
            }
            resp.chunks = Some(chunks);
        } else if let Some(cl) = resp.header("content-length") {
            let n: usize = cl
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad content-length {cl:?}")))?;
            resp.body = self.take_exact(n, "body")?;
        } else {
            // Close-delimited.
            while self.fill()? > 0 {}
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    pub fn try_read_response(&mut self) -> io::Result<Response> {
        let head = self.try_read_head()?;
        self.try_read_body(head, false)
    }

    /// Reads one complete response (a `100 Continue` is returned as a response of its own).
    pub fn read_response(&mut self) -> Response {
        self.try_read_response()
            .unwrap_or_else(|e| panic!("reading response: {e}"))
    }

    /// Reads a response to a HEAD request (headers only, whatever they announce).
    pub fn read_head_response(&mut self) -> Response {
        let head = self.read_head();
        self.try_read_body(head, true).expect("head response")
    }

    pub fn request(&mut self, bytes: &[u8]) -> Response {
        self.send(bytes);
        self.read_response()
    }

    /// Asserts the server closes the connection (EOF) within the read timeout, with no bytes
    /// left over beyond the responses already read.
    pub fn expect_eof(&mut self) {
        match self.fill() {
            Ok(0) => {}
            Ok(_) => panic!("expected EOF, got more bytes: {:?}", String::from_utf8_lossy(&self.buf)),
            Err(e) => panic!("expected EOF, got error: {e}"),
        }
        assert!(
            self.buf.is_empty(),
            "unread bytes before EOF: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Asserts nothing more arrives (neither bytes nor EOF) within `d`.
    pub fn expect_silence(&mut self, d: Duration) {
        assert!(
            self.buf.is_empty(),
            "unexpected extra bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stream.set_read_timeout(Some(d)).expect("set timeout");
        let r = self.fill();
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).expect("set timeout");
        match r {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Ok(0) => panic!("connection closed unexpectedly"),
            Ok(_) => panic!("unexpected extra bytes: {:?}", String::from_utf8_lossy(&self.buf)),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a fresh connection.
pub fn roundtrip(addr: SocketAddr, bytes: &[u8]) -> Response {
    Client::connect(addr).request(bytes)
}

// ---------------------------------------------------------------------------------------------
// Request builders
// ---------------------------------------------------------------------------------------------

pub fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// A JSON string literal.
pub fn js(s: &str) -> String {
    sonic_rs::to_string(s).expect("string to JSON")
}

/// A chat request body with one user message.
pub fn chat_body(model: &str, msg: &str, stream: bool) -> String {
    format!(
        r#"{{"model":{},"messages":[{{"role":"user","content":{}}}],"stream":{stream}}}"#,
        js(model),
        js(msg)
    )
}

pub fn chat(model: &str, msg: &str) -> Vec<u8> {
    post("/v1/chat/completions", &chat_body(model, msg, false))
}

pub fn chat_stream(model: &str, msg: &str) -> Vec<u8> {
    post("/v1/chat/completions", &chat_body(model, msg, true))
}

/// A fake upstream's side: reads one request (head, then its content-length body) from `s`,
/// keeping what follows it in `buf`. Returns the head (without its blank line) and the body;
/// `None` at EOF, on an error or at the socket's read timeout.
pub fn read_http_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut tmp = [0u8; 16384];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).into_owned();
            let cl: usize = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .map(|(_, v)| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= i + 4 + cl {
                let body = buf[i + 4..i + 4 + cl].to_vec();
                buf.drain(..i + 4 + cl);
                return Some((head, body));
            }
        }
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON and SSE
// ---------------------------------------------------------------------------------------------

static NULL: std::sync::OnceLock<Value> = std::sync::OnceLock::new();

/// `at(v, "choices.0.message.content")`: a dotted path; numeric segments index arrays; a missing
/// path gives JSON null.
pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let null = NULL.get_or_init(Value::new_null);
    let mut cur = v;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let next = match seg.parse::<usize>() {
            Ok(i) if cur.is_array() => cur.get(i),
            _ => cur.get(seg),
        };
        match next {
            Some(n) => cur = n,
            None => return null,
        }
    }
    cur
}

pub fn at_str<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path).as_str().unwrap_or_else(|| {
        panic!(
            "{path} is not a string in {}",
            sonic_rs::to_string(v).unwrap_or_default()
        )
    })
}

pub fn at_u64(v: &Value, path: &str) -> u64 {
    at(v, path).as_u64().unwrap_or_else(|| {
        panic!(
            "{path} is not an integer in {}",
            sonic_rs::to_string(v).unwrap_or_default()
        )
    })
}

pub fn parse_json(s: &str) -> Value {
    sonic_rs::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s:?}"))
}

/// Splits an SSE body into the `data:` payloads of its events, asserting every event is a single
/// `data: ` line terminated by a blank line.
pub fn sse_data(body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body).expect("SSE body is UTF-8");
    assert!(
        text.ends_with("\n\n"),
        "SSE body does not end with a blank line: {text:?}"
    );
    text[..text.len() - 2]
        .split("\n\n")
        .map(|ev| {
            assert!(!ev.contains('\n'), "event has more than one line: {ev:?}");
            ev.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("event is not `data: ...`: {ev:?}"))
                .to_string()
        })
        .collect()
}

/// Asserts `status` and an OpenAI-shaped error body; returns the error object's message.
pub fn assert_openai_error(r: &Response, status: u16, ty: &str) -> String {
    assert_eq!(r.status, status, "status; body {:?}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "content-type {:?}",
        r.header("content-type")
    );
    let v = r.json();
    let obj = v.as_object().expect("top-level object");
    assert_eq!(obj.len(), 1, "only `error` at top level: {}", r.text());
    let err = at(&v, "error");
    assert_eq!(at_str(&v, "error.type"), ty, "error.type in {}", r.text());
    for k in ["message", "type", "param", "code"] {
        assert!(err.get(k).is_some(), "error.{k} missing in {}", r.text());
    }
    let msg = at_str(&v, "error.message").to_string();
    assert!(!msg.is_empty(), "empty error message");
    msg
}

// ---------------------------------------------------------------------------------------------
// Polling, metrics, mock stats
// ---------------------------------------------------------------------------------------------

/// Calls `f` every 20 ms until it returns `Some`, for at most `timeout`.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn metrics_text(sluice: SocketAddr) -> String {
    let r = roundtrip(sluice, &get("/metrics"));
    assert_eq!(r.status, 200, "/metrics: {}", r.text());
    r.text()
}

/// `/metrics` once `sluice_open_connections` is 1, only the scrape's own connection (or the last
/// scrape after a second). A client's close reaches the gateway a moment after the client had
/// its answer, so an earlier connection may still count for a scrape right after it.
pub fn metrics_when_only_the_scrape_is_open(sluice: SocketAddr) -> String {
    let mut last = String::new();
    poll(Duration::from_secs(1), || {
        last = metrics_text(sluice);
        (metric(&last, "sluice_open_connections") == Some(1.0)).then_some(())
    });
    last
}

/// The value of a sample line `series value` (series including labels, exactly as rendered).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockStats {
    pub open: i64,
    pub accepted: u64,
    pub requests: u64,
}

/// Raw `GET /mock/stats` from a sluice-mock.
pub fn mock_stats(mock: SocketAddr) -> MockStats {
    let r = roundtrip(mock, &get("/mock/stats"));
    assert_eq!(r.status, 200, "/mock/stats: {}", r.text());
    let v = r.json();
    MockStats {
        open: at(&v, "open_connections").as_i64().expect("open_connections"),
        accepted: at_u64(&v, "accepted_connections"),
        requests: at_u64(&v, "requests"),
    }
}

/// Counts connections a sluice-mock accepted from anyone but this probe, whether or not the mock
/// counts its own stats connections in `accepted_connections` (it is calibrated on creation, so
/// create it before any traffic).
pub struct StatsProbe {
    mock: SocketAddr,
    base: u64,
    per_query: u64,
    queries: u64,
}

impl StatsProbe {
    pub fn new(mock: SocketAddr) -> StatsProbe {
        let a = mock_stats(mock).accepted;
        let b = mock_stats(mock).accepted;
        let per_query = b - a;
        assert!(per_query <= 1, "stats queries counted {per_query} times");
        StatsProbe {
            mock,
            base: b,
            per_query,
            queries: 0,
        }
    }

    /// Current stats with `accepted` reduced to connections not made by this probe.
    pub fn read(&mut self) -> MockStats {
        let mut s = mock_stats(self.mock);
        self.queries += 1;
        s.accepted = s.accepted - self.base - self.per_query * self.queries;
        s
    }
}

/// Runs a command to completion with a bound; returns (exit status, stdout, stderr).
pub fn run_bounded(bin: &str, args: &[&str], timeout: Duration) -> (ExitStatus, String, String) {
    let dir = TempDir::new("run");
    let (out_p, err_p) = (dir.file("stdout"), dir.file("stderr"));
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_p).expect("stdout file"))
        .stderr(File::create(&err_p).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} {args:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status, read(&out_p), read(&err_p))
}
