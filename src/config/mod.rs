//! Configuration: raw TOML (serde) -> validated -> compiled `Snapshot` -> published with arc-swap.
//!
//! Every error is collected with its key path so `sluice --check` can report them all at once.
//! Compiling a snapshot may block (environment, CA files, DNS), so it only ever runs on the main
//! thread or the reload thread, never on a worker. Workers read the current snapshot through a
//! per-worker `arc_swap::Cache` and keep the `Arc` for the whole request, so in-flight requests
//! finish on the config they started with.

pub mod raw;
pub mod reload;

use crate::http::Limits;
use arc_swap::ArcSwap;
use raw::{RawConfig, RawProvider};
use std::collections::HashMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

/// The wire dialect an upstream speaks (its `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
    /// In-process mock that speaks OpenAI; no network.
    Mock,
}

impl ProviderKind {
    fn parse(s: &str) -> Option<ProviderKind> {
        Some(match s {
            "openai" => ProviderKind::OpenAi,
            "anthropic" => ProviderKind::Anthropic,
            "gemini" => ProviderKind::Gemini,
            "bedrock" => ProviderKind::Bedrock,
            "cohere" => ProviderKind::Cohere,
            "mock" => ProviderKind::Mock,
            _ => return None,
        })
    }

    /// The wire format this provider speaks (`None` for the in-process mock).
    pub fn format(self) -> Option<crate::formats::Format> {
        use crate::formats::Format;
        Some(match self {
            ProviderKind::OpenAi => Format::OpenAi,
            ProviderKind::Anthropic => Format::Anthropic,
            ProviderKind::Gemini => Format::Gemini,
            ProviderKind::Bedrock => Format::Bedrock,
            ProviderKind::Cohere => Format::Cohere,
            ProviderKind::Mock => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Cohere => "cohere",
            ProviderKind::Mock => "mock",
        }
    }
}

/// Where an upstream lives. Pools are keyed by `pool_key`, so a reload that leaves an origin
/// unchanged keeps its warm connections.
#[derive(Clone)]
pub struct Origin {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// `Host` header value (port omitted when it is the scheme default).
    pub authority: String,
    /// Path prefix from `base_url`, without a trailing slash (e.g. `/openai` for Groq).
    pub path_prefix: String,
    /// Resolved off the workers; empty when resolution failed (requests then get 502).
    pub addrs: Vec<SocketAddr>,
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    pub pool_key: Arc<str>,
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pool_key)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub total: Duration,
    /// Longest silence within a response body; `None`: only `total` bounds it.
    pub body_idle: Option<Duration>,
    /// TCP keepalive on the provider's connections: silence before the first probe, and the
    /// time between probes (`upstream.tcp_keepalive_ms`); `None`: off.
    pub tcp_keepalive: Option<Duration>,
}

/// How a provider's URLs and auth differ from its format's standard API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiStyle {
    Standard,
    /// Azure OpenAI: paths without `/v1`, `?api-version=`, `api-key` header.
    Azure {
        api_version: String,
    },
    /// Vertex AI: paths without the `/v1beta` version (it is part of base_url), bearer auth.
    Vertex,
}

/// AWS SigV4 credentials for a Bedrock provider.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets.
        write!(f, "AwsCredentials({}, region {})", self.access_key_id, self.region)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct MockKnobs {
    pub chunks: usize,
    pub chunk_delay: Duration,
    pub latency: Duration,
}

/// One configured upstream, compiled.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub origin: Option<Origin>,
    /// Resolved key values (never `env.NAME` any more); used round-robin.
    pub keys: Vec<String>,
    /// For each key, the headers that carry it in this provider's format, built once so requests
    /// do not format strings.
    pub auth_headers: Vec<Vec<(&'static str, String)>>,
    pub models: Vec<String>,
    pub timeouts: Timeouts,
    pub mock: MockKnobs,
    pub style: ApiStyle,
    /// Bedrock SigV4 credentials (when set, requests are signed instead of using `keys`).
    pub aws: Option<AwsCredentials>,
    /// An OpenAI provider that serves `/v1/responses` gets Responses requests as sent; one that
    /// does not (many OpenAI-compatible servers, Azure deployments) gets them as chat requests.
    pub responses_api: bool,
    /// An OpenAI provider whose models answer only through the Responses API: chat requests of
    /// every format go to it as Responses requests (`formats::openai::responses_upstream`).
    pub chat_via_responses: bool,
}

impl Provider {
    /// Whether stored responses (`GET /v1/responses/{id}`, ...) can be asked of it.
    pub fn holds_stored_responses(&self) -> bool {
        self.kind == ProviderKind::OpenAi && self.responses_api && self.origin.is_some()
    }

    /// Adapts a format-standard API path (e.g. `/v1/chat/completions`) to this provider's style.
    pub fn styled_path(&self, standard: &str) -> String {
        match &self.style {
            ApiStyle::Standard => standard.to_string(),
            ApiStyle::Azure { api_version } => {
                let p = standard.strip_prefix("/v1").unwrap_or(standard);
                let sep = if p.contains('?') { '&' } else { '?' };
                format!("{p}{sep}api-version={api_version}")
            }
            ApiStyle::Vertex => standard
                .strip_prefix("/v1beta")
                .or_else(|| standard.strip_prefix("/v1"))
                .unwrap_or(standard)
                .to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub workers: usize,
    pub limits: Limits,
    pub drain_timeout: Duration,
    pub access_log: bool,
    pub watch_interval: Duration,
    /// Silence after which a translated stream gets a keepalive (None: never).
    pub stream_keepalive: Option<Duration>,
    /// Browser origins let in (off when empty).
    pub cors: crate::http::cors::Cors,
}

#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    pub max_idle: usize,
    pub idle_timeout: Duration,
    /// Idle connections kept ready per origin once it is used (see `Pool::wants_spare`).
    pub spare: usize,
    pub dns_refresh: Duration,
}

/// The immutable compiled config every request reads.
#[derive(Debug)]
pub struct Snapshot {
    pub server: ServerSettings,
    pub pool: PoolSettings,
    pub providers: Vec<Arc<Provider>>,
    pub default_provider: usize,
    /// `routing.stored_responses_provider`: where stored-response requests go, when set.
    pub stored_responses_provider: Option<usize>,
    by_name: HashMap<String, usize>,
}

impl Snapshot {
    pub fn provider(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name).map(|&i| &self.providers[i])
    }

    pub fn default_provider(&self) -> &Arc<Provider> {
        &self.providers[self.default_provider]
    }
}

/// Shared, atomically swappable current snapshot.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;

/// Reads, validates and compiles a config file, returning every error found.
pub fn load(path: &Path) -> Result<Snapshot, Vec<ConfigError>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            file: file.clone(),
            key: String::new(),
            message: format!("cannot read: {e}"),
        }]
    })?;
    compile_str(&text, &file)
}

/// Parses and compiles config text; `file` only labels the errors.
pub fn compile_str(text: &str, file: &str) -> Result<Snapshot, Vec<ConfigError>> {
    let mut errs = Errors {
        file: file.to_string(),
        list: Vec::new(),
        unreadable: Vec::new(),
    };
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            errs.push("", e.to_string().trim_end().replace('\n', " "));
            return Err(errs.list);
        }
    };
    let raw = parse_sections(&table, &mut errs);
    let snap = compile(raw, &mut errs);
    if errs.list.is_empty() {
        Ok(snap.expect("compile returns a snapshot when there are no errors"))
    } else {
        Err(errs.list)
    }
}

struct Errors {
    file: String,
    list: Vec<ConfigError>,
    /// Keys whose values could not be read (a wrong type, an unknown key): the checks after
    /// parsing see the default in their place, whose errors would be about a value the file
    /// does not hold.
    unreadable: Vec<String>,
}

impl Errors {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        if self.unreadable(&key) {
            return;
        }
        self.list.push(ConfigError {
            file: self.file.clone(),
            key,
            message: message.into(),
        });
    }

    /// An error in reading `key`'s value, after which it counts as unset.
    fn push_unreadable(&mut self, key: String, message: String) {
        self.push(key.clone(), message);
        self.unreadable.push(key);
    }

    fn unreadable(&self, key: &str) -> bool {
        self.unreadable.iter().any(|k| k == key)
    }
}

/// Deserializes each section on its own so one bad section does not hide errors in the others.
fn parse_sections(table: &toml::Table, errs: &mut Errors) -> RawConfig {
    let mut raw = RawConfig::default();
    for (key, value) in table {
        match key.as_str() {
            // A section with bad keys keeps its readable ones, so their own checks still run.
            "server" => raw.server = section(value, "server", errs).unwrap_or_else(Option::unwrap_or_default),
            "routing" => raw.routing = section(value, "routing", errs).unwrap_or_else(Option::unwrap_or_default),
            "upstream" => raw.upstream = section(value, "upstream", errs).unwrap_or_else(Option::unwrap_or_default),
            "providers" => match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        match section(item, &format!("providers[{i}]"), errs) {
                            Ok(v) => {
                                raw.providers.push(v);
                                raw.provider_indexes.push(i);
                            }
                            Err(partial) => {
                                // Remember the name so follow-on errors ("no such provider") are
                                // not reported for a provider whose own errors were listed.
                                raw.broken_providers
                                    .push(item.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string());
                                raw.partial_providers.extend(partial.map(|p| (i, p)));
                            }
                        }
                    }
                }
                None => errs.push("providers", "must be an array of tables ([[providers]])"),
            },
            other => errs.push(other, "unknown key"),
        }
    }
    raw
}

/// Deserializes one section. On failure, each key is tried on its own (every field has a default,
/// so a one-key table is valid exactly when that key is known and well-typed), which names every
/// bad key with its full path instead of only the first one serde stops at; the error then holds
/// the section as far as it could be read (its good keys), when it is a table.
fn section<T: serde::de::DeserializeOwned>(value: &toml::Value, key: &str, errs: &mut Errors) -> Result<T, Option<T>> {
    let err = match value.clone().try_into::<T>() {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let before = errs.list.len();
    let Some(table) = value.as_table() else {
        errs.push_unreadable(key.to_string(), err.message().trim_end().replace('\n', " "));
        return Err(None);
    };
    let mut readable = toml::Table::new();
    for (k, v) in table {
        let mut one = toml::Table::new();
        one.insert(k.clone(), v.clone());
        match toml::Value::Table(one).try_into::<T>() {
            Ok(_) => {
                readable.insert(k.clone(), v.clone());
            }
            Err(e) => {
                let msg = e.message().trim_end().replace('\n', " ");
                let msg = if unknown_field_name(&msg).is_some() {
                    "unknown key".to_string()
                } else {
                    msg
                };
                errs.push_unreadable(format!("{key}.{k}"), msg);
            }
        }
    }
    if errs.list.len() == before {
        errs.push_unreadable(key.to_string(), err.message().trim_end().replace('\n', " "));
        return Err(None);
    }
    Err(toml::Value::Table(readable).try_into::<T>().ok())
}

fn unknown_field_name(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Linux's ceiling on any process's open files (`fs.nr_open`'s default): a connection limit
/// above it could never be reached, so such a value is a typo.
const MAX_OPEN_FILES: usize = 1 << 20;
/// `upstream.tcp_keepalive_ms`'s largest value: Linux's limit for TCP_KEEPIDLE (32,767 s).
const MAX_TCP_KEEPALIVE_MS: u64 = 32_767_000;

fn compile(raw: RawConfig, errs: &mut Errors) -> Option<Snapshot> {
    let s = &raw.server;
    let listen = match s.listen.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => Some(a),
        _ => {
            errs.push("server.listen", format!("not a valid address: {:?}", s.listen));
            None
        }
    };
    if s.max_body_bytes == 0 {
        errs.push("server.max_body_bytes", "must be greater than 0");
    }
    if s.max_head_bytes < 1024 {
        errs.push("server.max_head_bytes", "must be at least 1024");
    }
    if s.max_connections > MAX_OPEN_FILES {
        errs.push(
            "server.max_connections",
            format!("must be at most {MAX_OPEN_FILES} (0 = no limit)"),
        );
    }
    if s.send_timeout_ms > u64::from(u32::MAX) {
        errs.push(
            "server.send_timeout_ms",
            format!("must be at most {} (0 = never)", u32::MAX),
        );
    }
    // A zero timeout would fire at once (every request failing): the file means something else.
    for (key, ms) in [
        ("server.header_read_timeout_ms", s.header_read_timeout_ms),
        ("server.idle_timeout_ms", s.idle_timeout_ms),
        ("upstream.pool_idle_timeout_ms", raw.upstream.pool_idle_timeout_ms),
        ("upstream.connect_timeout_ms", raw.upstream.connect_timeout_ms),
        ("upstream.first_byte_timeout_ms", raw.upstream.first_byte_timeout_ms),
        ("upstream.total_timeout_ms", raw.upstream.total_timeout_ms),
    ] {
        if ms == 0 {
            errs.push(key, "must be greater than 0");
        }
    }
    // The kernel counts keepalive times in whole seconds, up to 32,767 (TCP_KEEPIDLE's limit).
    let keepalive = raw.upstream.tcp_keepalive_ms;
    if keepalive != 0 && (!keepalive.is_multiple_of(1000) || keepalive > MAX_TCP_KEEPALIVE_MS) {
        errs.push(
            "upstream.tcp_keepalive_ms",
            format!("must be whole seconds (a multiple of 1000) up to {MAX_TCP_KEEPALIVE_MS}, or 0 (off)"),
        );
    }
    if raw.upstream.pool_spare > raw.upstream.pool_max_idle && !errs.unreadable("upstream.pool_max_idle") {
        errs.push(
            "upstream.pool_spare",
            "must not exceed upstream.pool_max_idle (spares are idle connections)",
        );
    }
    let cors = crate::http::cors::Cors::new(&s.cors_allowed_origins).unwrap_or_else(|e| {
        errs.push("server.cors_allowed_origins", &e);
        Default::default()
    });
    let workers = if s.workers == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        s.workers
    };
    let server = ServerSettings {
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        workers,
        limits: Limits {
            max_head_bytes: s.max_head_bytes,
            max_body_bytes: s.max_body_bytes,
            header_read_timeout: Duration::from_millis(s.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(s.idle_timeout_ms.max(1)),
            send_timeout: Duration::from_millis(s.send_timeout_ms),
            max_connections: s.max_connections,
        },
        drain_timeout: Duration::from_millis(s.drain_timeout_ms),
        access_log: s.access_log,
        watch_interval: Duration::from_millis(s.watch_interval_ms),
        stream_keepalive: (s.stream_keepalive_ms > 0).then(|| Duration::from_millis(s.stream_keepalive_ms)),
        cors,
    };
    let up = &raw.upstream;
    let pool = PoolSettings {
        max_idle: up.pool_max_idle,
        idle_timeout: Duration::from_millis(up.pool_idle_timeout_ms.max(1)),
        spare: up.pool_spare,
        dns_refresh: Duration::from_millis(up.dns_refresh_ms.max(1000)),
    };

    let mut providers = Vec::new();
    let mut by_name = HashMap::new();
    if raw.providers.is_empty() && raw.broken_providers.is_empty() {
        errs.push("providers", "at least one provider is required");
    }
    // Names are checked before each provider is: a duplicate is named even when either entry
    // has other errors (including one that failed to parse).
    let mut names = std::collections::HashSet::new();
    for (p, i) in raw.providers.iter().zip(&raw.provider_indexes) {
        let key = format!("providers[{i}]");
        let duplicate = !names.insert(p.name.as_str()) || raw.broken_providers.contains(&p.name);
        if duplicate && !p.name.is_empty() {
            errs.push(format!("{key}.name"), format!("duplicate provider name {:?}", p.name));
        }
        if let Some(prov) = compile_provider(p, &key, up, errs) {
            by_name.insert(prov.name.clone(), providers.len());
            providers.push(Arc::new(prov));
        }
    }
    // A provider that failed to parse is checked as far as it was read, for the errors of its
    // readable values (never served: the pass fails anyway).
    for (i, p) in &raw.partial_providers {
        let _ = compile_provider(p, &format!("providers[{i}]"), up, errs);
    }
    let default_provider = match by_name.get(&raw.routing.default_provider) {
        Some(&i) => i,
        // One that failed to parse or compile is reported already.
        None if names.contains(raw.routing.default_provider.as_str())
            || raw.broken_providers.contains(&raw.routing.default_provider) =>
        {
            0
        }
        None => {
            errs.push(
                "routing.default_provider",
                format!(
                    "{:?} is not the name of a configured provider",
                    raw.routing.default_provider
                ),
            );
            0
        }
    };
    let stored_responses_provider = match raw.routing.stored_responses_provider.as_deref() {
        None => None,
        Some(name) => match by_name.get(name) {
            Some(&i) if providers[i].holds_stored_responses() => Some(i),
            Some(_) => {
                errs.push(
                    "routing.stored_responses_provider",
                    format!("{name:?} is not an OpenAI provider with the Responses API and a base_url"),
                );
                None
            }
            None if names.contains(name) || raw.broken_providers.iter().any(|b| b == name) => None,
            None => {
                errs.push(
                    "routing.stored_responses_provider",
                    format!("{name:?} is not the name of a configured provider"),
                );
                None
            }
        },
    };
    if !errs.list.is_empty() {
        return None;
    }
    Some(Snapshot {
        server,
        pool,
        providers,
        default_provider,
        stored_responses_provider,
        by_name,
    })
}

fn compile_provider(p: &RawProvider, key: &str, up: &raw::RawUpstream, errs: &mut Errors) -> Option<Provider> {
    let before = errs.list.len();
    if p.name.is_empty() {
        errs.push(format!("{key}.name"), "is required");
    } else if p.name.contains('/') || p.name.chars().any(char::is_whitespace) {
        errs.push(format!("{key}.name"), "must not contain '/' or whitespace");
    }
    let kind = match ProviderKind::parse(&p.kind) {
        Some(k) => Some(k),
        None => {
            errs.push(
                format!("{key}.kind"),
                format!(
                    "{:?} is not one of openai, anthropic, gemini, bedrock, cohere, mock",
                    p.kind
                ),
            );
            None
        }
    };
    let is_mock = kind == Some(ProviderKind::Mock);
    // What a provider needs depends on its kind: with the kind unreadable, nothing is asked.
    let kind_unreadable = errs.unreadable(&format!("{key}.kind"));
    let origin = if kind_unreadable {
        None
    } else if is_mock {
        if !p.base_url.is_empty() {
            errs.push(format!("{key}.base_url"), "a mock provider has no base_url");
        }
        None
    } else if p.base_url.is_empty() {
        errs.push(format!("{key}.base_url"), "is required");
        None
    } else {
        match parse_origin(&p.base_url, p.tls_ca_file.as_deref()) {
            Ok(o) => Some(o),
            Err(m) => {
                errs.push(
                    if m.starts_with("tls_ca_file") {
                        format!("{key}.tls_ca_file")
                    } else {
                        format!("{key}.base_url")
                    },
                    m,
                );
                None
            }
        }
    };
    if !is_mock
        && !kind_unreadable
        && (p.mock_chunks.is_some() || p.mock_chunk_delay_ms.is_some() || p.mock_latency_ms.is_some())
    {
        errs.push(key.to_string(), "mock_* knobs are only valid with kind = \"mock\"");
    }
    for (name, ms) in [
        ("connect_timeout_ms", p.connect_timeout_ms),
        ("first_byte_timeout_ms", p.first_byte_timeout_ms),
        ("total_timeout_ms", p.total_timeout_ms),
    ] {
        if ms == Some(0) {
            errs.push(format!("{key}.{name}"), "must be greater than 0");
        }
    }
    let mut keys = Vec::new();
    for (j, k) in p.keys.iter().enumerate() {
        match resolve_secret(k) {
            Ok(v) => keys.push(v),
            Err(m) => errs.push(format!("{key}.keys[{j}]"), m),
        }
    }
    if errs.list.len() != before {
        return None;
    }
    let kind = kind?;
    let before = errs.list.len();
    let style = match (kind, &p.azure_api_version, p.vertex) {
        (ProviderKind::OpenAi, Some(v), None | Some(false)) => ApiStyle::Azure { api_version: v.clone() },
        (ProviderKind::Gemini, None, Some(true)) => ApiStyle::Vertex,
        (_, None, None | Some(false)) => ApiStyle::Standard,
        (_, Some(_), _) => {
            errs.push(format!("{key}.azure_api_version"), "only valid with kind = \"openai\"");
            ApiStyle::Standard
        }
        (_, None, Some(true)) => {
            errs.push(format!("{key}.vertex"), "only valid with kind = \"gemini\"");
            ApiStyle::Standard
        }
    };
    let responses_api = match (kind, p.responses_api) {
        (ProviderKind::OpenAi, Some(on)) => on,
        (ProviderKind::OpenAi, None) => !matches!(style, ApiStyle::Azure { .. }),
        (_, None) => false,
        (_, Some(_)) => {
            errs.push(format!("{key}.responses_api"), "only valid with kind = \"openai\"");
            false
        }
    };
    let chat_via_responses = match (kind, p.chat_via_responses) {
        (_, None | Some(false)) => false,
        (ProviderKind::OpenAi, Some(true)) if responses_api => true,
        (ProviderKind::OpenAi, Some(true)) => {
            errs.push(
                format!("{key}.chat_via_responses"),
                "needs the Responses API: remove `responses_api = false` (or this setting)",
            );
            false
        }
        (_, Some(true)) => {
            errs.push(format!("{key}.chat_via_responses"), "only valid with kind = \"openai\"");
            false
        }
    };
    let aws = match (&p.aws_access_key_id, &p.aws_secret_access_key) {
        (None, None) => {
            if p.aws_session_token.is_some() {
                errs.push(
                    format!("{key}.aws_session_token"),
                    "needs aws_access_key_id and aws_secret_access_key",
                );
            }
            None
        }
        (Some(id), Some(secret)) if kind == ProviderKind::Bedrock => {
            let mut get = |field: &str, v: &str| match resolve_secret(v) {
                Ok(v) => v,
                Err(m) => {
                    errs.push(format!("{key}.{field}"), m);
                    String::new()
                }
            };
            let access_key_id = get("aws_access_key_id", id);
            let secret_access_key = get("aws_secret_access_key", secret);
            let session_token = p.aws_session_token.as_deref().map(|t| get("aws_session_token", t));
            let region = match p.region.as_deref() {
                Some(r) => get("region", r),
                None => {
                    errs.push(format!("{key}.region"), "is required with AWS credentials");
                    String::new()
                }
            };
            Some(AwsCredentials {
                access_key_id,
                secret_access_key,
                session_token,
                region,
            })
        }
        (Some(_), Some(_)) => {
            errs.push(format!("{key}.aws_access_key_id"), "only valid with kind = \"bedrock\"");
            None
        }
        _ => {
            errs.push(
                key.to_string(),
                "aws_access_key_id and aws_secret_access_key go together",
            );
            None
        }
    };
    if errs.list.len() != before {
        return None;
    }
    let auth = |k: &str| match &style {
        ApiStyle::Azure { .. } => vec![("api-key", k.to_string())],
        ApiStyle::Vertex => vec![("authorization", format!("Bearer {k}"))],
        ApiStyle::Standard => auth_headers(kind, k),
    };
    Some(Provider {
        style: style.clone(),
        aws,
        responses_api,
        chat_via_responses,
        name: p.name.clone(),
        kind,
        origin,
        auth_headers: keys.iter().map(|k| auth(k)).collect(),
        keys,
        models: p.models.clone(),
        timeouts: Timeouts {
            connect: Duration::from_millis(p.connect_timeout_ms.unwrap_or(up.connect_timeout_ms).max(1)),
            first_byte: Duration::from_millis(p.first_byte_timeout_ms.unwrap_or(up.first_byte_timeout_ms).max(1)),
            total: Duration::from_millis(p.total_timeout_ms.unwrap_or(up.total_timeout_ms).max(1)),
            body_idle: Some(p.body_idle_timeout_ms.unwrap_or(up.body_idle_timeout_ms))
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis),
            tcp_keepalive: (up.tcp_keepalive_ms > 0).then(|| Duration::from_millis(up.tcp_keepalive_ms)),
        },
        mock: MockKnobs {
            chunks: p.mock_chunks.unwrap_or(4).max(1),
            chunk_delay: Duration::from_millis(p.mock_chunk_delay_ms.unwrap_or(0)),
            latency: Duration::from_millis(p.mock_latency_ms.unwrap_or(0)),
        },
    })
}

/// How each provider kind carries an API key.
fn auth_headers(kind: ProviderKind, key: &str) -> Vec<(&'static str, String)> {
    match kind {
        ProviderKind::Anthropic => vec![("x-api-key", key.to_string())],
        ProviderKind::Gemini => vec![("x-goog-api-key", key.to_string())],
        // Bedrock API keys are bearer tokens; SigV4 credentials are configured separately.
        ProviderKind::OpenAi | ProviderKind::Cohere | ProviderKind::Bedrock | ProviderKind::Mock => {
            vec![("authorization", format!("Bearer {key}"))]
        }
    }
}

/// `env.NAME` reads an environment variable; anything else is the literal value.
pub fn resolve_secret(v: &str) -> Result<String, String> {
    match v.strip_prefix("env.") {
        Some(name) => std::env::var(name).map_err(|_| format!("environment variable {name} is not set")),
        None => Ok(v.to_string()),
    }
}

fn parse_origin(base_url: &str, ca_file: Option<&str>) -> Result<Origin, String> {
    let (tls, rest) = if let Some(r) = base_url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = base_url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("{base_url:?} must start with http:// or https://"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("{base_url:?} has no valid host"));
    }
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
        // IPv6 literal.
        let end = stripped
            .find(']')
            .ok_or_else(|| format!("{base_url:?}: unclosed '['"))?;
        let host = &stripped[..end];
        let port = match &stripped[end + 1..] {
            "" => default_port,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("{base_url:?}: bad port"))?,
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| format!("{base_url:?}: bad port {p:?}"))?,
            ),
            None => (authority.to_string(), default_port),
        }
    };
    if path.contains('?') || path.contains('#') {
        return Err(format!("{base_url:?}: base_url must not have a query or fragment"));
    }
    let path_prefix = path.trim_end_matches('/').to_string();
    let tls_config = if tls {
        Some(match ca_file {
            Some(f) => Arc::new(tls_config_with_ca(f)?),
            None => default_tls_config(),
        })
    } else {
        if ca_file.is_some() {
            return Err("tls_ca_file: only meaningful with an https:// base_url".into());
        }
        None
    };
    let scheme = if tls { "https" } else { "http" };
    let pool_key: Arc<str> = format!("{scheme}://{host}:{port}|{}", ca_file.unwrap_or("")).into();
    let addrs = resolve(&host, port);
    Ok(Origin {
        tls,
        authority: if port == default_port {
            authority_host(&host)
        } else {
            format!("{}:{port}", authority_host(&host))
        },
        host,
        port,
        path_prefix,
        addrs,
        tls_config,
        pool_key,
    })
}

fn authority_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Blocking DNS: only called from the main or reload thread.
pub fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            eprintln!("sluice: warning: cannot resolve {host}:{port}: {e} (will retry)");
            Vec::new()
        }
    }
}

fn default_tls_config() -> Arc<rustls::ClientConfig> {
    static CFG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(client_config(roots))
    })
    .clone()
}

fn tls_config_with_ca(file: &str) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let certs = CertificateDer::pem_file_iter(file).map_err(|e| format!("tls_ca_file: cannot read {file:?}: {e}"))?;
    let mut n = 0;
    for cert in certs {
        let cert = cert.map_err(|e| format!("tls_ca_file: bad PEM in {file:?}: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("tls_ca_file: bad certificate in {file:?}: {e}"))?;
        n += 1;
    }
    if n == 0 {
        return Err(format!("tls_ca_file: no certificates in {file:?}"));
    }
    Ok(client_config(roots))
}

fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    // rustls 0.23.48 deprecates the ring provider for lacking post-quantum key exchange; its
    // replacement (aws-lc-rs) needs a C toolchain the build avoids. Upstream TLS here is
    // gateway -> provider over classical key exchange, as before the deprecation.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Re-resolves every origin; returns a new snapshot when any address set changed.
pub fn refresh_dns(old: &Snapshot) -> Option<Snapshot> {
    let mut changed = false;
    let providers = old
        .providers
        .iter()
        .map(|p| match &p.origin {
            Some(o) => {
                let addrs = resolve(&o.host, o.port);
                if addrs.is_empty() || addrs == o.addrs {
                    p.clone()
                } else {
                    changed = true;
                    let mut origin = o.clone();
                    origin.addrs = addrs;
                    // Every other setting as it was (a new field cannot be forgotten here).
                    Arc::new(Provider {
                        origin: Some(origin),
                        ..Provider::clone(p)
                    })
                }
            }
            None => p.clone(),
        })
        .collect();
    changed.then(|| Snapshot {
        server: old.server.clone(),
        pool: old.pool,
        providers,
        default_provider: old.default_provider,
        stored_responses_provider: old.stored_responses_provider,
        by_name: old.by_name.clone(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid config with a mock provider (other modules' tests build snapshots from it).
    pub(crate) const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"
workers = 2
max_body_bytes = 1024

[routing]
default_provider = "mock"

[[providers]]
name = "mock"
kind = "mock"
models = ["m"]

[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:9/prefix/"
keys = ["sk-1"]
models = ["gpt-4o-mini"]
"#;

    #[test]
    fn good_config_compiles() {
        let s = compile_str(GOOD, "t.toml").unwrap();
        assert_eq!(s.server.workers, 2);
        assert_eq!(s.server.limits.max_body_bytes, 1024);
        let o = s.provider("openai").unwrap().origin.clone().unwrap();
        assert_eq!(o.path_prefix, "/prefix");
        assert_eq!(o.port, 9);
        assert!(!o.tls);
        assert_eq!(s.default_provider().name, "mock");
    }

    #[test]
    fn every_error_is_reported_with_its_key() {
        let bad = r#"
bogus = 1
[server]
listen = "nope"
colour = "red"
[routing]
default_provider = "missing"
[[providers]]
name = "a"
kind = "martian"
[[providers]]
name = "b"
kind = "openai"
keys = ["env.SLUICE_TEST_SURELY_UNSET"]
"#;
        let errs = compile_str(bad, "bad.toml").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"bogus"), "{errs:?}");
        assert!(keys.contains(&"server.colour"), "{errs:?}");
        assert!(keys.contains(&"providers[0].kind"), "{errs:?}");
        assert!(keys.contains(&"providers[1].base_url"), "{errs:?}");
        assert!(keys.contains(&"providers[1].keys[0]"), "{errs:?}");
        assert!(errs.iter().all(|e| e.file == "bad.toml"));
    }

    #[test]
    fn a_provider_after_one_that_failed_to_parse_keeps_its_own_index_in_error_keys() {
        // providers[1] fails to parse (an unknown key) and is left out of the parsed list: the
        // entry after it must still be named providers[2], where the operator will look for it.
        let bad = r#"
[[providers]]
name = "mock"
kind = "mock"
[[providers]]
name = "b"
kind = "anthropic"
bogus = 1
[[providers]]
name = "c"
kind = "openai"
base_url = "http://127.0.0.1:9"
keys = ["env.SLUICE_TEST_SURELY_UNSET"]
"#;
        let errs = compile_str(bad, "bad.toml").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        // providers[1]'s readable keys are checked too: it lacks a base_url.
        assert_eq!(
            keys,
            ["providers[1].bogus", "providers[2].keys[0]", "providers[1].base_url"],
            "{errs:?}"
        );
    }

    #[test]
    fn spares_are_off_by_default_and_bounded_by_max_idle() {
        assert_eq!(compile_str(GOOD, "t.toml").unwrap().pool.spare, 0);
        let with = |extra: &str| GOOD.replacen("[routing]", &format!("[upstream]\n{extra}\n\n[routing]"), 1);
        let s = compile_str(&with("pool_spare = 2"), "t.toml").unwrap();
        assert_eq!(s.pool.spare, 2);
        let errs = compile_str(&with("pool_spare = 5\npool_max_idle = 4"), "t.toml").unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].key, "upstream.pool_spare");
    }

    #[test]
    fn listen_and_default_provider_are_checked() {
        let bad = GOOD
            .replace("127.0.0.1:8080", "not an address")
            .replace("default_provider = \"mock\"", "default_provider = \"x\"");
        let errs = compile_str(&bad, "f").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert!(
            keys.contains(&"server.listen") && keys.contains(&"routing.default_provider"),
            "{errs:?}"
        );
    }

    #[test]
    fn an_unreadable_value_is_reported_once_and_its_neighbours_are_checked() {
        // routing.default_provider unreadable: its default ("mock") is not named missing. A
        // provider whose kind is unreadable is not asked for what a kind needs (a base_url), nor
        // for a name that is unreadable; its readable timeout is checked.
        let bad = r#"
[server]
max_head_bytes = 10
idle_timeout_ms = "soon"
[routing]
default_provider = 7
[upstream]
pool_max_idle = "many"
pool_spare = 100
[[providers]]
name = 3
kind = ["openai"]
connect_timeout_ms = 0
"#;
        let errs = compile_str(bad, "f").unwrap_err();
        let mut keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "providers[0].connect_timeout_ms",
                "providers[0].kind",
                "providers[0].name",
                "routing.default_provider",
                "server.idle_timeout_ms",
                "server.max_head_bytes",
                "upstream.pool_max_idle",
            ],
            "{errs:?}"
        );
    }

    #[test]
    fn max_connections_is_per_worker_with_zero_for_none_and_bounded() {
        let with = |n: &str| GOOD.replace("[server]\n", &format!("[server]\nmax_connections = {n}\n"));
        assert_eq!(compile_str(GOOD, "f").unwrap().server.limits.max_connections, 10_000);
        assert_eq!(compile_str(&with("0"), "f").unwrap().server.limits.max_connections, 0);
        assert_eq!(
            compile_str(&with("1048576"), "f")
                .unwrap()
                .server
                .limits
                .max_connections,
            1 << 20
        );
        let errs = compile_str(&with("1048577"), "f").unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].key, "server.max_connections");
        assert_eq!(errs[0].message, "must be at most 1048576 (0 = no limit)");
        let errs = compile_str(&with("-1"), "f").unwrap_err();
        assert_eq!(errs[0].key, "server.max_connections", "{errs:?}");
    }

    #[test]
    fn the_send_timeout_defaults_to_a_minute_with_zero_for_never_and_bounded() {
        let with = |n: &str| GOOD.replace("[server]\n", &format!("[server]\nsend_timeout_ms = {n}\n"));
        let timeout = |toml: &str| compile_str(toml, "f").unwrap().server.limits.send_timeout;
        assert_eq!(timeout(GOOD), Duration::from_secs(60));
        assert_eq!(timeout(&with("0")), Duration::ZERO);
        assert_eq!(timeout(&with("4294967295")), Duration::from_millis(u64::from(u32::MAX)));
        let errs = compile_str(&with("4294967296"), "f").unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].key, "server.send_timeout_ms");
        assert_eq!(errs[0].message, "must be at most 4294967295 (0 = never)");
    }

    #[test]
    fn the_body_idle_timeout_defaults_to_five_minutes_with_zero_for_none_and_a_provider_override() {
        let idle = |toml: &str| {
            let c = compile_str(toml, "f").unwrap();
            c.provider("openai").unwrap().timeouts.body_idle
        };
        assert_eq!(idle(GOOD), Some(Duration::from_secs(300)));
        let upstream = |n: &str| format!("{GOOD}\n[upstream]\nbody_idle_timeout_ms = {n}\n");
        assert_eq!(idle(&upstream("0")), None);
        assert_eq!(idle(&upstream("2500")), Some(Duration::from_millis(2500)));
        let provider = |n: &str| {
            GOOD.replace(
                "keys = [\"sk-1\"]",
                &format!("keys = [\"sk-1\"]\nbody_idle_timeout_ms = {n}"),
            )
        };
        assert_eq!(idle(&provider("0")), None);
        assert_eq!(idle(&provider("1000")), Some(Duration::from_secs(1)));
    }

    #[test]
    fn upstream_tcp_keepalive_defaults_to_thirty_seconds_zero_is_off_and_only_whole_seconds_pass() {
        let upstream = |n: &str| format!("{GOOD}\n[upstream]\ntcp_keepalive_ms = {n}\n");
        let keepalive =
            |toml: &str| compile_str(toml, "f").map(|c| c.provider("openai").unwrap().timeouts.tcp_keepalive);
        assert_eq!(keepalive(GOOD).unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(keepalive(&upstream("0")).unwrap(), None);
        assert_eq!(keepalive(&upstream("7000")).unwrap(), Some(Duration::from_secs(7)));
        assert_eq!(
            keepalive(&upstream("32767000")).unwrap(),
            Some(Duration::from_secs(32_767))
        );
        for bad in ["1500", "999", "32768000"] {
            let errs = keepalive(&upstream(bad)).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].key, "upstream.tcp_keepalive_ms");
            assert!(errs[0].message.contains("whole seconds"), "{errs:?}");
        }
    }

    #[test]
    fn the_stored_responses_provider_must_be_one_that_holds_them() {
        let with = |name: &str| {
            GOOD.replace(
                "default_provider = \"mock\"",
                &format!("default_provider = \"mock\"\nstored_responses_provider = \"{name}\""),
            )
        };
        let s = compile_str(&with("openai"), "f").unwrap();
        assert_eq!(
            s.stored_responses_provider.map(|i| s.providers[i].name.as_str()),
            Some("openai")
        );
        assert_eq!(compile_str(GOOD, "f").unwrap().stored_responses_provider, None);
        for (name, says) in [("mock", "not an OpenAI provider"), ("nobody", "not the name")] {
            let errs = compile_str(&with(name), "f").unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].key, "routing.stored_responses_provider");
            assert!(errs[0].message.contains(says), "{errs:?}");
        }
    }

    #[test]
    fn env_keys_are_resolved() {
        std::env::set_var("SLUICE_TEST_KEY_X", "secret");
        let t = GOOD.replace("\"sk-1\"", "\"env.SLUICE_TEST_KEY_X\"");
        let s = compile_str(&t, "f").unwrap();
        assert_eq!(s.provider("openai").unwrap().keys, vec!["secret".to_string()]);
    }

    #[test]
    fn provider_styles() {
        let t = r#"
[routing]
default_provider = "az"
[[providers]]
name = "az"
kind = "openai"
base_url = "https://r.openai.azure.invalid/openai/deployments/d"
azure_api_version = "2024-10-21"
keys = ["k"]
[[providers]]
name = "vx"
kind = "gemini"
vertex = true
base_url = "https://us-central1-aiplatform.googleapis.invalid/v1/projects/p/locations/us-central1/publishers/google"
keys = ["tok"]
[[providers]]
name = "br"
kind = "bedrock"
base_url = "https://bedrock-runtime.us-east-1.amazonaws.invalid"
aws_access_key_id = "AKID"
aws_secret_access_key = "SECRET"
region = "us-east-1"
"#;
        let s = compile_str(t, "s").unwrap();
        let az = s.provider("az").unwrap();
        assert_eq!(
            az.styled_path("/v1/chat/completions"),
            "/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(az.auth_headers[0], vec![("api-key", "k".to_string())]);
        let vx = s.provider("vx").unwrap();
        assert_eq!(
            vx.styled_path("/v1beta/models/g:generateContent"),
            "/models/g:generateContent"
        );
        assert_eq!(vx.auth_headers[0], vec![("authorization", "Bearer tok".to_string())]);
        let br = s.provider("br").unwrap();
        assert_eq!(br.aws.as_ref().unwrap().region, "us-east-1");
        let bad = t.replace("region = \"us-east-1\"\n", "");
        let errs = compile_str(&bad, "s").unwrap_err();
        assert!(errs.iter().any(|e| e.key == "providers[2].region"), "{errs:?}");
        // Responses requests: translated for an Azure deployment unless told otherwise, as sent
        // to a plain OpenAI upstream; only an OpenAI provider takes the setting.
        assert!(!az.responses_api);
        let on = t.replace("keys = [\"k\"]", "keys = [\"k\"]\nresponses_api = true");
        assert!(compile_str(&on, "s").unwrap().provider("az").unwrap().responses_api);
        let plain = GOOD.replace("keys = [\"sk-1\"]", "keys = [\"sk-1\"]\nresponses_api = false");
        assert!(
            !compile_str(&plain, "s")
                .unwrap()
                .provider("openai")
                .unwrap()
                .responses_api
        );
        assert!(
            compile_str(GOOD, "s")
                .unwrap()
                .provider("openai")
                .unwrap()
                .responses_api
        );
        let wrong = t.replace("vertex = true", "vertex = true\nresponses_api = true");
        let errs = compile_str(&wrong, "s").unwrap_err();
        assert!(errs.iter().any(|e| e.key == "providers[1].responses_api"), "{errs:?}");
        // Chat through the Responses API: an OpenAI provider that has it, and no other.
        let via = GOOD.replace("keys = [\"sk-1\"]", "keys = [\"sk-1\"]\nchat_via_responses = true");
        assert!(
            compile_str(&via, "s")
                .unwrap()
                .provider("openai")
                .unwrap()
                .chat_via_responses
        );
        assert!(
            !compile_str(GOOD, "s")
                .unwrap()
                .provider("openai")
                .unwrap()
                .chat_via_responses
        );
        let off = via.replace(
            "chat_via_responses = true",
            "chat_via_responses = true\nresponses_api = false",
        );
        let errs = compile_str(&off, "s").unwrap_err();
        assert!(errs.iter().any(|e| e.key.ends_with("].chat_via_responses")), "{errs:?}");
        let wrong = t.replace("vertex = true", "vertex = true\nchat_via_responses = true");
        let errs = compile_str(&wrong, "s").unwrap_err();
        assert!(
            errs.iter().any(|e| e.key == "providers[1].chat_via_responses"),
            "{errs:?}"
        );
    }

    #[test]
    fn origin_parsing() {
        let o = parse_origin("https://api.example.invalid", None).unwrap();
        assert!(o.tls);
        assert_eq!(o.port, 443);
        assert_eq!(o.authority, "api.example.invalid");
        assert_eq!(o.path_prefix, "");
        let o = parse_origin("http://[::1]:8081/v", None).unwrap();
        assert_eq!(o.host, "::1");
        assert_eq!(o.authority, "[::1]:8081");
        assert!(parse_origin("ftp://x", None).is_err());
        assert!(parse_origin("http://x:notaport", None).is_err());
    }

    #[test]
    fn syntax_error_is_reported() {
        let errs = compile_str("[server\nlisten=", "s.toml").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].file, "s.toml");
    }
}

#[cfg(test)]
mod per_key_tests {
    use super::*;

    #[test]
    fn every_bad_key_in_one_section_is_named() {
        let bad = r#"
[server]
colour = "red"
flavour = "mint"
workers = "two"
[routing]
default_provider = "mock"
[[providers]]
name = "mock"
kind = "mock"
mock_chunks = -1
"#;
        let errs = compile_str(bad, "b.toml").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"server.colour"), "{errs:?}");
        assert!(keys.contains(&"server.flavour"), "{errs:?}");
        assert!(keys.contains(&"server.workers"), "{errs:?}");
        assert!(keys.contains(&"providers[0].mock_chunks"), "{errs:?}");
        // No follow-on noise about the provider that failed to parse.
        assert!(!keys.contains(&"routing.default_provider"), "{errs:?}");
        assert!(!keys.contains(&"providers"), "{errs:?}");
        assert_eq!(errs.len(), 4, "{errs:?}");
    }

    #[test]
    fn a_zero_timeout_is_named_not_read_as_one_millisecond() {
        let bad = r#"
[server]
header_read_timeout_ms = 0
idle_timeout_ms = 0
[upstream]
connect_timeout_ms = 0
first_byte_timeout_ms = 0
total_timeout_ms = 0
[routing]
default_provider = "mock"
[[providers]]
name = "mock"
kind = "mock"
first_byte_timeout_ms = 0
"#;
        let errs = compile_str(bad, "t.toml").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.header_read_timeout_ms",
                "server.idle_timeout_ms",
                "upstream.connect_timeout_ms",
                "upstream.first_byte_timeout_ms",
                "upstream.total_timeout_ms",
                "providers[0].first_byte_timeout_ms",
            ],
            "{errs:?}"
        );
        assert!(errs.iter().all(|e| e.message == "must be greater than 0"), "{errs:?}");
    }

    #[test]
    fn a_duplicate_name_is_named_even_beside_other_errors() {
        let bad = r#"
[routing]
default_provider = "a"
[[providers]]
name = "a"
kind = "mock"
[[providers]]
name = "a"
kind = "nonesuch"
[[providers]]
name = "b"
kind = "mock"
bogus = 1
[[providers]]
name = "b"
kind = "mock"
"#;
        let errs = compile_str(bad, "d.toml").unwrap_err();
        let dups: Vec<&str> = errs
            .iter()
            .filter(|e| e.message.starts_with("duplicate provider name"))
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(dups, ["providers[1].name", "providers[3].name"], "{errs:?}");
    }
}
