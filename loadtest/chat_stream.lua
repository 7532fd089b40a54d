-- wrk script: OpenAI-style streaming chat completion ("stream": true, SSE).
--
--   wrk -t1 -c1 -d10s --latency -s loadtest/chat_stream.lua http://127.0.0.1:8080
--
-- Same request body, env vars and RESULT line as chat.lua (script=chat_stream
-- stream=1). wrk measures until the last byte of the SSE stream (the chunked
-- terminator after "data: [DONE]"), so latency here is full-stream time, not
-- time-to-first-token.

SLUICE_STREAM = true

-- Load chat.lua from the directory of this file (wrk loads scripts with
-- luaL_dofile, so the chunk source is "@<path>").
local src = debug.getinfo(1, "S").source
local dir = src:match("^@(.*[/\\])") or "./"
dofile(dir .. "chat.lua")
