//! The TOML file as written: plain serde structs, every key named once, unknown keys rejected.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub routing: RawRouting,
    pub upstream: RawUpstream,
    pub providers: Vec<RawProvider>,
    /// Names of `[[providers]]` entries that failed to parse (not a config key).
    #[serde(skip)]
    pub broken_providers: Vec<String>,
    /// Where each of `providers` stands in the file's `[[providers]]` array, for error key paths:
    /// the entries that failed to parse are left out of `providers` (not a config key).
    #[serde(skip)]
    pub provider_indexes: Vec<usize>,
    /// The entries that failed to parse, with their index, as far as they could be read (their
    /// readable keys; not a config key): compiled only for the errors their values have.
    #[serde(skip)]
    pub partial_providers: Vec<(usize, RawProvider)>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    /// 0 = one per available core.
    pub workers: usize,
    pub max_body_bytes: usize,
    pub max_head_bytes: usize,
    pub header_read_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// A client that takes none of its answer for this long is cut off (`TCP_USER_TIMEOUT`);
    /// 0 = never.
    pub send_timeout_ms: u64,
    /// Open client connections per worker; one more is answered 503 and closed. 0 = no limit.
    pub max_connections: usize,
    pub drain_timeout_ms: u64,
    pub access_log: bool,
    /// Poll interval for file-change reloads; 0 disables watching (SIGHUP still works).
    pub watch_interval_ms: u64,
    /// Keepalive on silent translated streams (OpenAI/Cohere comment, Anthropic `ping`; never
    /// Gemini or Bedrock); 0 disables.
    pub stream_keepalive_ms: u64,
    /// Browser origins let in (CORS): `scheme://host[:port]` entries, or `"*"`; empty = none.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            workers: 0,
            max_body_bytes: 32 * 1024 * 1024,
            max_head_bytes: 64 * 1024,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            send_timeout_ms: 60_000,
            max_connections: 10_000,
            drain_timeout_ms: 10_000,
            access_log: false,
            watch_interval_ms: 1_000,
            stream_keepalive_ms: 15_000,
            cors_allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawRouting {
    pub default_provider: String,
    /// The provider asked for stored responses when several OpenAI providers could hold them.
    pub stored_responses_provider: Option<String>,
}

impl Default for RawRouting {
    fn default() -> Self {
        RawRouting {
            default_provider: "mock".into(),
            stored_responses_provider: None,
        }
    }
}

/// Upstream client defaults; each provider may override the timeouts.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpstream {
    pub connect_timeout_ms: u64,
    pub first_byte_timeout_ms: u64,
    pub total_timeout_ms: u64,
    /// Longest silence from the upstream in the middle of a response body (a stream between
    /// events, or a body sent slowly); 0: only `total_timeout_ms` bounds it.
    pub body_idle_timeout_ms: u64,
    pub pool_max_idle: usize,
    pub pool_idle_timeout_ms: u64,
    /// Connections opened ahead of demand per upstream origin, per worker (0: none).
    pub pool_spare: usize,
    /// How often DNS names of upstreams are resolved again (off the workers).
    pub dns_refresh_ms: u64,
    /// TCP keepalive on upstream connections: the first probe after this much silence, then
    /// one per this interval, three unanswered ones close it (whole seconds); 0: off.
    pub tcp_keepalive_ms: u64,
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream {
            connect_timeout_ms: 5_000,
            first_byte_timeout_ms: 120_000,
            total_timeout_ms: 600_000,
            body_idle_timeout_ms: 300_000,
            pool_max_idle: 64,
            pool_idle_timeout_ms: 30_000,
            pool_spare: 0,
            dns_refresh_ms: 30_000,
            tcp_keepalive_ms: 30_000,
        }
    }
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawProvider {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub keys: Vec<String>,
    pub models: Vec<String>,
    pub tls_ca_file: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub first_byte_timeout_ms: Option<u64>,
    pub total_timeout_ms: Option<u64>,
    pub body_idle_timeout_ms: Option<u64>,
    /// kind = "openai": talk to Azure OpenAI (`api-key` header, `?api-version=`; base_url is the
    /// deployment URL, e.g. https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT).
    pub azure_api_version: Option<String>,
    /// kind = "openai": whether the upstream serves the Responses API (`/v1/responses`). When
    /// false (the default for Azure deployment URLs, whose Responses API lives elsewhere),
    /// Responses requests are translated to Chat Completions, as for other provider kinds.
    pub responses_api: Option<bool>,
    /// kind = "openai": send every chat request (from any client format) as a Responses API
    /// request, for models OpenAI serves only there (the `-pro` and codex models). Needs the
    /// Responses API (`responses_api`).
    pub chat_via_responses: Option<bool>,
    /// kind = "gemini": Vertex AI URL shape (base_url ends with .../publishers/google; keys are
    /// OAuth bearer tokens).
    pub vertex: Option<bool>,
    /// kind = "bedrock": SigV4 credentials (literal or env.NAME) and region.
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub aws_session_token: Option<String>,
    pub region: Option<String>,
    // Built-in mock knobs (kind = "mock").
    pub mock_chunks: Option<usize>,
    pub mock_chunk_delay_ms: Option<u64>,
    pub mock_latency_ms: Option<u64>,
}
