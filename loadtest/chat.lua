-- wrk script: a non-streaming chat request in a client's own wire format; by default an
-- OpenAI Chat Completion.
--
--   wrk -t1 -c1 -d10s --latency -s loadtest/chat.lua http://127.0.0.1:8080
--
-- Env:
--   SLUICE_MODEL      model field (default "gpt-4o-mini"; use "openai/gpt-4o-mini"
--                     when going through sluice)
--   SLUICE_API_KEY    API key sent (Authorization: Bearer, and x-api-key for Anthropic;
--                     default "sk-loadtest")
--   SLUICE_PATH       request path (default the client's: "/v1/chat/completions",
--                     "/v1/responses" or "/v1/messages")
--   SLUICE_NO_STATUS_HOOK=1  do not install the per-response Lua hook; non-2xx is
--                     then approximated by wrk's own counter (status >= 400)
--
-- The wrappers set globals before loading this file: SLUICE_STREAM = true for a stream
-- (chat_stream.lua, ...), SLUICE_CLIENT = "responses" (responses*.lua: an OpenAI Responses API
-- client) or "anthropic" (messages*.lua: an Anthropic Messages client). Every client sends the
-- same conversation.
--
-- At the end prints one machine-parsable line:
--   RESULT script=chat stream=0 rps=... requests=... duration_s=... p50_us=...
--          p90_us=... p99_us=... p999_us=... mean_us=... max_us=... errors=...
--          non2xx=... connect_err=... read_err=... write_err=... timeout_err=...
--          bytes=...
-- (script= the scenario: chat, chat_stream, responses, responses_stream, messages,
-- messages_stream). Latencies are wrk's per-request latencies (request write -> last byte of
-- the response) in integer microseconds. errors = non2xx + all socket errors.

local stream = rawget(_G, "SLUICE_STREAM") == true
local client = rawget(_G, "SLUICE_CLIENT") or "openai"
local scenarios = { openai = "chat", responses = "responses", anthropic = "messages" }
local scenario = assert(scenarios[client], "SLUICE_CLIENT: openai, responses or anthropic")
if stream then scenario = scenario .. "_stream" end

local model = os.getenv("SLUICE_MODEL")
if model == nil or model == "" then model = "gpt-4o-mini" end
local api_key = os.getenv("SLUICE_API_KEY")
if api_key == nil or api_key == "" then api_key = "sk-loadtest" end
local paths = { openai = "/v1/chat/completions", responses = "/v1/responses", anthropic = "/v1/messages" }
local path = os.getenv("SLUICE_PATH")
if path == nil or path == "" then path = paths[client] end

-- A typical small chat request: system prompt, a short prior exchange, a user
-- question, and the usual sampling parameters. About 1 KB on the wire.
local system = 'You are a concise, helpful assistant for an ' ..
  'e-commerce support team. Answer in plain English, cite order numbers ' ..
  'exactly as given, never invent tracking information, and keep answers ' ..
  'under 120 words unless the customer explicitly asks for more detail.'
local turns = table.concat({
  '{"role":"user","content":"Hi, I ordered a pair of running shoes last week ',
    '(order #A-20931) and the tracking page has not updated since Tuesday."},',
  '{"role":"assistant","content":"Sorry about the delay. Carrier scans can lag ',
    'by 24-48 hours. Could you confirm the shipping postcode on the order so ',
    'I can check the estimated delivery window?"},',
  '{"role":"user","content":"Sure, it is 94107. I need them before the race on ',
    'Saturday morning. If they will not make it, can I cancel and pick up a ',
    'pair in a store instead? What are my options and would I be refunded?"}',
})
local body
if client == "responses" then
  body = table.concat({
    '{"model":"', model, '","instructions":"', system, '",',
    '"input":[', turns, '],',
    '"temperature":0.2,"top_p":1,"max_output_tokens":256,"user":"loadtest-user-0001"',
    stream and ',"stream":true' or '',
    '}'
  })
elseif client == "anthropic" then
  body = table.concat({
    '{"model":"', model, '","system":"', system, '",',
    '"messages":[', turns, '],',
    '"temperature":0.2,"max_tokens":256,"metadata":{"user_id":"loadtest-user-0001"}',
    stream and ',"stream":true' or '',
    '}'
  })
else
  body = table.concat({
    '{"model":"', model, '",',
    '"messages":[{"role":"system","content":"', system, '"},', turns, '],',
    '"temperature":0.2,"top_p":1,"max_tokens":256,"n":1,',
    '"presence_penalty":0,"frequency_penalty":0,"user":"loadtest-user-0001"',
    stream and ',"stream":true,"stream_options":{"include_usage":true}' or '',
    '}'
  })
end

wrk.method = "POST"
wrk.path = path
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. api_key
if client == "anthropic" then
  wrk.headers["x-api-key"] = api_key
  wrk.headers["anthropic-version"] = "2023-06-01"
end
if stream then
  wrk.headers["Accept"] = "text/event-stream"
else
  wrk.headers["Accept"] = "application/json"
end

-- Per-thread bookkeeping (each wrk thread has its own Lua state; the main state
-- collects the values through thread:get() in done()).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

local use_hook = os.getenv("SLUICE_NO_STATUS_HOOK") ~= "1"
if use_hook then
  function response(status, headers, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
    end
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  if use_hook then
    for _, t in ipairs(threads) do
      non2xx_total = non2xx_total + (tonumber(t:get("non2xx")) or 0)
    end
  else
    non2xx_total = summary.errors.status
  end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  local rps = 0
  if secs > 0 then rps = summary.requests / secs end
  local function p(q) return math.floor(latency:percentile(q) + 0.5) end
  io.write(string.format(
    "RESULT script=%s stream=%d rps=%.1f requests=%d duration_s=%.3f " ..
    "p50_us=%d p90_us=%d p99_us=%d p999_us=%d mean_us=%d max_us=%d " ..
    "errors=%d non2xx=%d connect_err=%d read_err=%d write_err=%d " ..
    "timeout_err=%d bytes=%d\n",
    scenario, stream and 1 or 0,
    rps, summary.requests, secs,
    p(50), p(90), p(99), p(99.9), math.floor(latency.mean + 0.5), latency.max,
    non2xx_total + sock, non2xx_total, e.connect, e.read, e.write, e.timeout,
    summary.bytes))
end
