//! Process lifecycle: config reload under load, rejected reloads, SIGTERM drain, `--check`.

mod common;

use common::*;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn model_ids(sluice: SocketAddr) -> Vec<String> {
    let r = roundtrip(sluice, &get("/v1/models"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    at(&v, "data")
        .as_array()
        .expect("data array")
        .iter()
        .map(|m| at_str(m, "id").to_string())
        .collect()
}

fn wait_models(sluice: SocketAddr, want: &[&str], timeout: Duration) -> Result<(), Vec<String>> {
    let mut last = Vec::new();
    match poll(timeout, || {
        last = model_ids(sluice);
        (last == want).then_some(())
    }) {
        Some(()) => Ok(()),
        None => Err(last),
    }
}

/// The reply text of a chat response, unary or streamed; an error string if it is not a clean 200.
fn reply_text(r: &Response) -> Result<String, String> {
    if r.status != 200 {
        return Err(format!("status {}: {}", r.status, r.text()));
    }
    if r.header("content-type") == Some("text/event-stream") {
        let text = String::from_utf8_lossy(&r.body);
        if !text.ends_with("data: [DONE]\n\n") {
            return Err(format!("stream not terminated: {text:?}"));
        }
        let data = sse_data(&r.body);
        let mut out = String::new();
        for d in &data[..data.len() - 1] {
            let v: Value = sonic_rs::from_str(d).map_err(|e| format!("bad event {d:?}: {e}"))?;
            if let Some(s) = at(&v, "choices.0.delta.content").as_str() {
                out.push_str(s);
            }
        }
        Ok(out)
    } else {
        let v: Value = sonic_rs::from_slice(&r.body).map_err(|e| format!("bad JSON {:?}: {e}", r.text()))?;
        at(&v, "choices.0.message.content")
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no content: {}", r.text()))
    }
}

// 10 -----------------------------------------------------------------------------------------

#[test]
fn reload_while_requests_are_in_flight_loses_nothing() {
    let mock = start_mock(&[]);
    let cfg = |models: &[&str], chunks: usize| {
        let extra = format!("mock_chunks = {chunks}");
        Cfg {
            upstream: Some(mock.addr),
            openai_models: models,
            mock_extra: &extra,
            ..Cfg::default()
        }
        .render()
    };
    let sluice = start_sluice(&cfg(&["v0"], 4));
    let path = config_path(&sluice);
    let addr = sluice.addr;

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(4);
                let (mut ok, mut failures) = (0usize, Vec::<String>::new());
                let mut conn: Option<Client> = None;
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && i < 2000 {
                    i += 1;
                    let msg = format!("t{t} r{i}");
                    let req = match i % 4 {
                        0 => chat("openai/gpt-4o-mini", &msg),
                        1 => chat_stream("openai/gpt-4o-mini", &msg),
                        2 => chat("mock/mock-model", &msg),
                        _ => chat_stream("mock/mock-model", &msg),
                    };
                    let c = match &mut conn {
                        Some(c) => c,
                        None => match Client::try_connect(addr) {
                            Ok(c) => conn.insert(c),
                            Err(e) => {
                                failures.push(format!("{msg}: connect: {e}"));
                                continue;
                            }
                        },
                    };
                    if let Err(e) = std::io::Write::write_all(&mut c.stream, &req) {
                        failures.push(format!("{msg}: write: {e}"));
                        conn = None;
                        continue;
                    }
                    match c.try_read_response() {
                        Ok(r) => {
                            match reply_text(&r) {
                                Ok(text) if text == format!("echo: {msg}") => ok += 1,
                                Ok(text) => failures.push(format!("{msg}: wrong reply {text:?}")),
                                Err(e) => failures.push(format!("{msg}: {e}")),
                            }
                            if r.closes() {
                                conn = None;
                            }
                        }
                        Err(e) => {
                            failures.push(format!("{msg}: read: {e}"));
                            conn = None;
                        }
                    }
                }
                (ok, failures)
            })
        })
        .collect();

    // Rewrite the file several times (atomically and in place), with and without SIGHUP.
    for i in 1..=6 {
        std::thread::sleep(Duration::from_millis(120));
        let text = cfg(&[&format!("v{i}")], 2 + i % 3);
        if i % 2 == 0 {
            write_atomic(&path, &text);
            sluice.signal(libc::SIGHUP);
        } else {
            std::fs::write(&path, text).expect("rewrite config");
        }
    }
    write_atomic(&path, &cfg(&["final-a", "final-b"], 3));
    sluice.signal(libc::SIGHUP);
    let seen = wait_models(
        addr,
        &["mock/mock-model", "openai/final-a", "openai/final-b"],
        Duration::from_secs(3),
    );
    // Keep the load going a little past the last reload.
    std::thread::sleep(Duration::from_millis(150));
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    let mut failures = Vec::new();
    for w in workers {
        let (ok, f) = w.join().expect("load thread panicked");
        total += ok;
        failures.extend(f);
    }
    eprintln!("{total} requests completed across the reloads");
    assert!(
        failures.is_empty(),
        "{} failed requests ({} ok), e.g. {:?}\nstderr:\n{}",
        failures.len(),
        total,
        &failures[..failures.len().min(5)],
        sluice.stderr()
    );
    assert!(
        total >= 30,
        "only {total} requests completed; the test did not exercise reloads under load"
    );
    assert_eq!(seen, Ok(()), "/v1/models never showed the final config");
    assert!(
        sluice.stderr().matches("config reloaded").count() >= 4,
        "stderr:\n{}",
        sluice.stderr()
    );
}

// 11 -----------------------------------------------------------------------------------------

#[test]
fn invalid_reload_keeps_the_old_config() {
    let mock = start_mock(&[]);
    let good = |models: &[&str]| {
        Cfg {
            upstream: Some(mock.addr),
            openai_models: models,
            ..Cfg::default()
        }
        .render()
    };
    let sluice = start_sluice(&good(&["old-model"]));
    let path = config_path(&sluice);
    let old = ["mock/mock-model", "openai/old-model"];
    assert_eq!(model_ids(sluice.addr), old);

    // Unknown key, and a models list that must not show up.
    let bad = good(&["must-not-appear"]).replace("[server]\n", "[server]\ncolour = \"red\"\n");
    write_atomic(&path, &bad);
    sluice.signal(libc::SIGHUP);
    assert!(
        sluice.wait_stderr("rejected", 1, Duration::from_secs(2)),
        "no rejection logged; stderr:\n{}",
        sluice.stderr()
    );
    let err = sluice.stderr();
    assert!(err.contains("server.colour"), "the error names the key: {err}");
    assert!(err.contains(path.to_str().unwrap()), "the error names the file: {err}");

    // Give any (wrong) late reload time to land, then check the old config still serves.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(model_ids(sluice.addr), old);
    for model in ["openai/old-model", "mock/mock-model"] {
        let r = roundtrip(sluice.addr, &chat(model, "still serving"));
        assert_eq!(reply_text(&r), Ok("echo: still serving".to_string()), "{model}");
    }

    // Fix the file: the watcher picks it up without a signal.
    write_atomic(&path, &good(&["new-model"]));
    assert_eq!(
        wait_models(
            sluice.addr,
            &["mock/mock-model", "openai/new-model"],
            Duration::from_secs(3)
        ),
        Ok(())
    );
    let r = roundtrip(sluice.addr, &chat("openai/new-model", "new config"));
    assert_eq!(reply_text(&r), Ok("echo: new config".to_string()));
}

#[test]
fn sighup_reloads_without_file_watching() {
    let mock = start_mock(&[]);
    let cfg = |models: &[&str]| {
        Cfg {
            upstream: Some(mock.addr),
            openai_models: models,
            ..Cfg::default()
        }
        .render()
        .replace("watch_interval_ms = 100", "watch_interval_ms = 0")
    };
    let sluice = start_sluice(&cfg(&["a"]));
    let path = config_path(&sluice);
    std::fs::write(&path, cfg(&["b"])).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        model_ids(sluice.addr),
        ["mock/mock-model", "openai/a"],
        "watching is off: no reload without a signal"
    );
    sluice.signal(libc::SIGHUP);
    assert_eq!(
        wait_models(sluice.addr, &["mock/mock-model", "openai/b"], Duration::from_secs(2)),
        Ok(())
    );
}

// 14 -----------------------------------------------------------------------------------------

#[test]
fn sigterm_drains_in_flight_request_then_exits_zero() {
    let mock = start_mock(&["--latency-ms", "1500"]);
    let mut sluice = start_sluice(
        &Cfg {
            upstream: Some(mock.addr),
            ..Cfg::default()
        }
        .render(),
    );
    let addr = sluice.addr;
    // A load balancer's probe, on a connection it keeps open.
    let mut probe = Client::connect(addr);
    assert_eq!(probe.request(&get("/health")).status, 200);
    let mut slow = Client::connect(addr);
    slow.send(&chat("openai/gpt-4o-mini", "slow but sure"));
    // Wait until the upstream has the request (it then sleeps for --latency-ms).
    assert!(poll(Duration::from_secs(2), || (mock_stats(mock.addr).requests == 1)
        .then_some(()))
    .is_some());
    let t = Instant::now();
    sluice.signal(libc::SIGTERM);

    // While the request is still in flight, the listener is gone.
    assert!(
        refused_within(addr, Duration::from_millis(1000)),
        "new connections still accepted {:?} after SIGTERM",
        t.elapsed()
    );
    assert!(
        sluice.wait_exit(Duration::ZERO).is_none(),
        "sluice exited before the in-flight request finished"
    );
    // Draining is not ready: the probe says so, so the balancer sends nothing more.
    let r = probe.request(&get("/health"));
    assert_eq!((r.status, r.text()), (503, r#"{"status":"draining"}"#.to_string()));
    assert!(r.closes(), "{:?}", r.headers);

    let r = slow.read_response();
    assert_eq!(reply_text(&r), Ok("echo: slow but sure".to_string()));
    assert!(r.closes(), "a draining server closes the connection: {:?}", r.headers);
    slow.expect_eof();

    let status = sluice
        .wait_exit(Duration::from_secs(3))
        .expect("sluice did not exit after draining");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}; stderr:\n{}",
        sluice.stderr()
    );
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
        "still accepting after exit"
    );
}

/// Whether connecting to `addr` is refused within `timeout` (tried every 20 ms): the listener is
/// gone, rather than still completing handshakes that nobody will accept.
fn refused_within(addr: SocketAddr, timeout: Duration) -> bool {
    poll(timeout, || {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
            _ => None,
        }
    })
    .is_some()
}

#[test]
fn sigterm_refuses_connections_that_arrive_with_it_while_a_stream_drains() {
    // A two-second stream keeps the worker draining well past the check below.
    let mock = start_mock(&["--chunks", "20", "--chunk-delay-ms", "100"]);
    // Two workers: the one with nothing in flight is done draining at once, while the other is not.
    let config = Cfg {
        upstream: Some(mock.addr),
        ..Cfg::default()
    }
    .render()
    .replace("workers = 1", "workers = 2");
    let mut sluice = start_sluice(&config);
    let addr = sluice.addr;
    let mut streaming = Client::connect(addr);
    streaming.send(&chat_stream("openai/gpt-4o-mini", "one two three four five six"));
    let head = streaming.read_head();
    assert_eq!(head.status, 200);

    // With connections arriving as the workers notice the signal, a listener's io_uring close
    // could be left unsubmitted until exit: until then the kernel completed every handshake,
    // queued it unaccepted and reset it at exit, where a load balancer needs a refusal.
    sluice.signal(libc::SIGTERM);
    let t = Instant::now();
    let racing: Vec<TcpStream> = (0..10)
        .filter_map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()
        })
        .collect();
    assert!(
        refused_within(addr, Duration::from_millis(1000)),
        "new connections still accepted {:?} after SIGTERM ({} raced it)",
        t.elapsed(),
        racing.len()
    );
    assert!(
        sluice.wait_exit(Duration::ZERO).is_none(),
        "sluice exited before the stream finished"
    );

    let r = streaming.try_read_body(head, false).expect("the stream finishes");
    assert!(r.text().contains("data: [DONE]"), "stream cut short: {}", r.text());
    let status = sluice
        .wait_exit(Duration::from_secs(3))
        .expect("sluice did not exit after draining");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", sluice.stderr());
}

#[test]
fn streams_still_open_at_the_drain_timeout_end_with_their_formats_in_stream_error() {
    // Two-second streams, a 300 ms drain: each kind of stream pump is cut.
    let mock = start_mock(&["--chunks", "20", "--chunk-delay-ms", "100"]);
    let config = Cfg {
        upstream: Some(mock.addr),
        mock_extra: "mock_chunks = 20\nmock_chunk_delay_ms = 100",
        ..Cfg::default()
    }
    .render()
    .replace("drain_timeout_ms = 3000", "drain_timeout_ms = 300");
    let mut sluice = start_sluice(&config);
    let anthropic = |model: &str| anthropic_messages(model, true);
    let openai_error = r#"data: {"error":{"#;
    let anthropic_error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"";
    let cases = [
        (
            "relayed",
            chat_stream("openai/gpt-4o-mini", "one two three four five six"),
            openai_error,
        ),
        ("translated", anthropic("openai/gpt-4o-mini"), anthropic_error),
        (
            "in-process mock",
            chat_stream("mock/mock-model", "one two three four five six"),
            openai_error,
        ),
        (
            "in-process mock, translated",
            anthropic("mock/mock-model"),
            anthropic_error,
        ),
    ];
    let mut open: Vec<_> = cases
        .iter()
        .map(|(name, req, _)| {
            let mut c = Client::connect(sluice.addr);
            c.send(req);
            let head = c.read_head();
            assert_eq!(head.status, 200, "{name}");
            (c, head)
        })
        .collect();
    let t = Instant::now();
    sluice.signal(libc::SIGTERM);
    for ((name, _, error), (c, head)) in cases.iter().zip(open.drain(..)) {
        let mut c = c;
        let r = c
            .try_read_body(head, false)
            .unwrap_or_else(|e| panic!("{name}: the stream was cut: {e}"));
        let text = r.text();
        let at = text
            .find(error)
            .unwrap_or_else(|| panic!("{name}: no in-stream error: {text}"));
        assert!(text[at..].contains("shutting down"), "{name}: {text}");
        if *error == openai_error {
            assert!(text.ends_with("data: [DONE]\n\n"), "{name}: no clean end: {text}");
        }
    }
    let status = sluice.wait_exit(Duration::from_secs(3)).expect("sluice did not exit");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", sluice.stderr());
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "the streams ran on: {:?}",
        t.elapsed()
    );
}

/// An Anthropic Messages request through the `/anthropic` route.
fn anthropic_messages(model: &str, stream: bool) -> Vec<u8> {
    post(
        "/anthropic/v1/messages",
        &format!(
            r#"{{"model":{},"max_tokens":64,"stream":{stream},"messages":[{{"role":"user","content":"one two three four five six"}}]}}"#,
            js(model)
        ),
    )
}

#[test]
fn unary_requests_still_waiting_at_the_drain_timeout_get_a_503_in_their_format() {
    let mock = start_mock(&["--latency-ms", "3000"]);
    let config = Cfg {
        upstream: Some(mock.addr),
        ..Cfg::default()
    }
    .render()
    .replace("drain_timeout_ms = 3000", "drain_timeout_ms = 300");
    let mut sluice = start_sluice(&config);
    let mut relayed = Client::connect(sluice.addr);
    relayed.send(&chat("openai/gpt-4o-mini", "slow"));
    let mut translated = Client::connect(sluice.addr);
    translated.send(&anthropic_messages("openai/gpt-4o-mini", false));
    assert!(poll(Duration::from_secs(2), || (mock_stats(mock.addr).requests == 2)
        .then_some(()))
    .is_some());
    let t = Instant::now();
    sluice.signal(libc::SIGTERM);
    let mut bodies = Vec::new();
    for c in [&mut relayed, &mut translated] {
        let r = c.read_response();
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(r.closes(), "a draining server closes the connection");
        assert!(
            at_str(&r.json(), "error.message").contains("shutting down"),
            "{}",
            r.text()
        );
        bodies.push(r.json());
    }
    // Each in its client's own error shape: OpenAI's `error` object, Anthropic's typed event.
    assert!(at(&bodies[0], "error.code").is_null() || at(&bodies[0], "error.code").is_str());
    assert_eq!(at_str(&bodies[1], "type"), "error");
    assert_eq!(at_str(&bodies[1], "error.type"), "overloaded_error");
    let status = sluice.wait_exit(Duration::from_secs(3)).expect("sluice did not exit");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", sluice.stderr());
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "the requests ran on: {:?}",
        t.elapsed()
    );
}

#[test]
fn sigterm_with_idle_keep_alive_connection_exits_promptly() {
    let mut sluice = start_sluice(&Cfg::default().render());
    let mut idle = Client::connect(sluice.addr);
    assert_eq!(idle.request(&get("/health")).status, 200);
    let t = Instant::now();
    sluice.signal(libc::SIGTERM);
    let status = sluice
        .wait_exit(Duration::from_secs(2))
        .expect("an idle keep-alive connection held up shutdown");
    assert_eq!(status.code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(1), "took {:?}", t.elapsed());
    idle.expect_eof();
}

// 16 -----------------------------------------------------------------------------------------

#[test]
fn check_reports_every_error_with_file_and_key() {
    let dir = TempDir::new("check");
    let bad = dir.file("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisten = \"127.0.0.1:0\"\ncolour = \"red\"\n\n[routing]\ndefault_provider = \"nowhere\"\n\n\
         [[providers]]\nname = \"mock\"\nkind = \"mock\"\n\n[[providers]]\nname = \"up\"\nkind = \"openai\"\n",
    )
    .unwrap();
    let bad_s = bad.to_str().unwrap();
    let (status, stdout, stderr) = run_bounded(SLUICE, &["--check", "--config", bad_s], Duration::from_secs(10));
    assert!(!status.success(), "exit {status}; stdout {stdout:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    for key in ["server.colour", "routing.default_provider", "providers[1].base_url"] {
        let prefix = format!("{bad_s}: {key}: ");
        assert!(
            lines.iter().any(|l| l.contains(&prefix)),
            "no error line with {prefix:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains(&format!("3 error(s) in {bad_s}")), "{stderr}");

    let good = dir.file("good.toml");
    std::fs::write(&good, Cfg::default().render()).unwrap();
    let good_s = good.to_str().unwrap();
    let (status, stdout, stderr) = run_bounded(SLUICE, &["--check", "--config", good_s], Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr {stderr:?}");
    assert_eq!(stdout.trim(), format!("{good_s}: ok (1 providers)"));
}

#[test]
fn check_reports_range_errors_beside_type_errors_in_one_pass() {
    let dir = TempDir::new("check");
    let bad = dir.file("bad.toml");
    // A type error and a range error in one section, a range error in another, and a provider
    // with both; its kind is well-typed, so its kind's needs (a base_url) are checked too.
    std::fs::write(
        &bad,
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = \"two\"\nmax_head_bytes = 10\n\n\
         [upstream]\nconnect_timeout_ms = 0\n\n\
         [[providers]]\nname = \"mock\"\nkind = \"mock\"\n\n\
         [[providers]]\nname = \"up\"\nkind = \"openai\"\nmodels = \"gpt\"\ntotal_timeout_ms = 0\n",
    )
    .unwrap();
    let bad_s = bad.to_str().unwrap();
    let (status, _stdout, stderr) = run_bounded(SLUICE, &["--check", "--config", bad_s], Duration::from_secs(10));
    assert!(!status.success(), "exit {status}");
    for key in [
        "server.workers",
        "server.max_head_bytes",
        "upstream.connect_timeout_ms",
        "providers[1].models",
        "providers[1].total_timeout_ms",
        "providers[1].base_url",
    ] {
        let prefix = format!("{bad_s}: {key}: ");
        assert!(
            stderr.lines().any(|l| l.contains(&prefix)),
            "no error line with {prefix:?} in:\n{stderr}"
        );
    }
    // Nothing follows from the unreadable values (no "no such provider", no default's error).
    assert!(stderr.contains(&format!("6 error(s) in {bad_s}")), "{stderr}");
}

/// Runs `sluice --check` on this text; returns (success, stderr, file path).
fn check(text: &str) -> (bool, String, String) {
    let dir = TempDir::new("check");
    let path = dir.file("bad.toml");
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap().to_string();
    let (status, _stdout, stderr) = run_bounded(SLUICE, &["--check", "--config", &p], Duration::from_secs(10));
    (status.success(), stderr, p)
}

#[test]
fn check_reports_every_error_within_one_section() {
    // Two unknown keys in [server]: both must be reported, not just the first.
    let (ok, stderr, p) =
        check("[server]\ncolour = \"red\"\nflavour = \"mint\"\n\n[[providers]]\nname = \"mock\"\nkind = \"mock\"\n");
    assert!(!ok);
    for key in ["server.colour", "server.flavour"] {
        let prefix = format!("{p}: {key}: ");
        assert!(
            stderr.lines().any(|l| l.contains(&prefix)),
            "no error line with {prefix:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_names_the_key_of_a_type_error() {
    let (ok, stderr, p) = check("[server]\nworkers = \"two\"\n\n[[providers]]\nname = \"mock\"\nkind = \"mock\"\n");
    assert!(!ok);
    let prefix = format!("{p}: server.workers: ");
    assert!(
        stderr.lines().any(|l| l.contains(&prefix)),
        "no error line with {prefix:?} in:\n{stderr}"
    );
}

/// Starts sluice under `ulimit <limit_args>` (a shell's, then `exec`), with the default test config.
fn sluice_under_ulimit(limit_args: &str) -> Proc {
    let dir = TempDir::new("sluice");
    let path = dir.file("sluice.toml");
    std::fs::write(&path, Cfg::default().render()).expect("write config");
    let script = format!("ulimit {limit_args} && exec \"$0\" --config \"$1\"");
    Proc::spawn("sluice", "bash", &["-c", &script, SLUICE, path.to_str().unwrap()], dir)
}

#[test]
fn a_low_soft_open_file_limit_is_raised_to_the_hard_one() {
    // 64 descriptors would hold about 50 connections; 150 stay open at once here.
    let sluice = sluice_under_ulimit("-Sn 64");
    let mut clients: Vec<Client> = (0..150).map(|_| Client::connect(sluice.addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        c.send(&get("/health"));
        let r = c
            .try_read_response()
            .unwrap_or_else(|e| panic!("connection {i} not served: {e}; stderr:\n{}", sluice.stderr()));
        assert_eq!(r.status, 200);
    }
    assert!(!sluice.stderr().contains("accept failed"), "{}", sluice.stderr());
    assert!(!sluice.stderr().contains("open-file limit"), "{}", sluice.stderr());
}

#[test]
fn a_low_hard_open_file_limit_is_reported_at_start() {
    let sluice = sluice_under_ulimit("-n 256");
    assert!(
        sluice.wait_stderr("the open-file limit is 256", 1, Duration::from_secs(5)),
        "{}",
        sluice.stderr()
    );
    assert_eq!(roundtrip(sluice.addr, &get("/health")).status, 200);
}

/// Sends `GET /health` on a new connection until one is served (a closed connection is noticed
/// by its worker a moment after the client closed it).
/// A connection that was served, and how many tries before it were refused (the worker may not
/// have seen a just-closed connection go yet: each refusal counts in the metrics).
fn served_within(addr: SocketAddr, timeout: Duration) -> (Client, u64) {
    let deadline = Instant::now() + timeout;
    let mut refused = 0;
    loop {
        let mut c = Client::connect(addr);
        if c.request(&get("/health")).status == 200 {
            return (c, refused);
        }
        refused += 1;
        assert!(Instant::now() < deadline, "no connection served within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connection over `server.max_connections` gets a 503 that closes it, read or not.
fn assert_refused(c: &mut Client) {
    let r = c.read_response();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.closes(), "{:?}", r.headers);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["type"], "server_error", "{}", r.text());
    c.expect_eof();
}

#[test]
fn connections_over_the_limit_get_a_503_and_the_limit_follows_a_reload() {
    let cfg = |n: usize| {
        let extra = format!("max_connections = {n}");
        Cfg {
            server_extra: &extra,
            ..Cfg::default()
        }
        .render()
    };
    let sluice = start_sluice(&cfg(2));
    // Two keep-alive connections, served, then idle.
    let mut a = Client::connect(sluice.addr);
    let mut b = Client::connect(sluice.addr);
    for c in [&mut a, &mut b] {
        assert_eq!(c.request(&get("/health")).status, 200);
    }
    // The third is refused whether it sent its request or nothing at all.
    let mut idle = Client::connect(sluice.addr);
    assert_refused(&mut idle);
    let mut asking = Client::connect(sluice.addr);
    asking.send(&get("/health"));
    assert_refused(&mut asking);
    // The kept ones still serve.
    assert_eq!(b.request(&get("/health")).status, 200);

    // One closes: a new connection is served, and reads the refusals counted.
    drop(a);
    let (mut c, retried) = served_within(sluice.addr, Duration::from_secs(3));
    let metrics = c.request(&get("/metrics")).text();
    let counted = format!(
        "# TYPE sluice_connections_refused_total counter\nsluice_connections_refused_total {}\n",
        2 + retried
    );
    assert!(metrics.contains(&counted), "{metrics}");

    // A reload raises the limit for the next accept: a third connection is served.
    write_atomic(&config_path(&sluice), &cfg(3));
    // Seen within 100-200 ms on an idle machine; the bound is for a loaded CI runner (a 3 s one
    // ran out once, 2026-12-06), and costs nothing when the reload comes.
    assert!(
        sluice.wait_stderr("config reloaded", 1, Duration::from_secs(10)),
        "{}",
        sluice.stderr()
    );
    let mut d = Client::connect(sluice.addr);
    assert_eq!(d.request(&get("/health")).status, 200);
    assert_refused(&mut Client::connect(sluice.addr));
    drop((b, c, d));
}
