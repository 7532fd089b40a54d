-- wrk script: an OpenAI Responses API client's request (chat.lua's conversation).
--
--   wrk -t1 -c1 -d10s --latency -s loadtest/responses.lua http://127.0.0.1:8080
--
-- Same env vars and RESULT line as chat.lua (script=responses).

SLUICE_CLIENT = "responses"

local src = debug.getinfo(1, "S").source
local dir = src:match("^@(.*[/\\])") or "./"
dofile(dir .. "chat.lua")
