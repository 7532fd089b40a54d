-- wrk script: an Anthropic Messages client's streaming request (chat.lua's conversation).
--
--   wrk -t1 -c1 -d10s --latency -s loadtest/messages_stream.lua http://127.0.0.1:8080
--
-- Same env vars and RESULT line as chat.lua (script=messages_stream).

SLUICE_STREAM = true
SLUICE_CLIENT = "anthropic"

local src = debug.getinfo(1, "S").source
local dir = src:match("^@(.*[/\\])") or "./"
dofile(dir .. "chat.lua")
