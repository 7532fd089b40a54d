#!/usr/bin/env bash
# Soak: ROUNDS rounds of mixed traffic through one gateway process, to catch what a benchmark
# does not: memory or descriptors that grow with the requests served, streams never closed.
#
#   bash scripts/soak.sh            (after cargo build --release --bins; about 2.5 minutes)
#   ROUNDS=10 SECONDS_EACH=3 bash scripts/soak.sh    (SECONDS_EACH: of each wrk run, 1 by default)
#
# One 1-worker gateway (CPU 0) in front of `sluice-mock` (CPU 1) as an upstream of every kind;
# wrk (CPU 1) drives, each round, every client format the loadtest scripts speak (Chat
# Completions, Messages, Responses; stream and not) to every provider kind, then the faults:
# streams cut off or failed mid-way, upstream error statuses, tool calls, and 200 clients that
# hang up mid-stream (against a second, slow mock). After each round: the gateway's
# RSS and open descriptors. At the end, the rule: RSS after the last round within 25% of RSS
# after round 2 (round 1 fills the pools and the allocator's pages), and, once the traffic has
# stopped, no stream open (`sluice_active_streams`) and no client connection but the scrape's
# own (`sluice_open_connections`). Exits 1 if not. Error statuses of the fault scenarios are
# expected; any other error is reported.
#
# Traffic goes to 127.0.0.1 only; every wrk run is bounded by `timeout`, and the processes
# started here are stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5} SECONDS_EACH=${SECONDS_EACH:-1}
SLUICE_BIN=${SLUICE_BIN:-$ROOT/target/release/sluice}
MOCK_BIN=${SLUICE_MOCK_BIN:-$ROOT/target/release/sluice-mock}
for b in "$SLUICE_BIN" "$MOCK_BIN"; do
  [[ -x $b ]] || { echo "need $b (cargo build --release --bins)" >&2; exit 1; }
done
command -v wrk > /dev/null || { echo "need wrk (scripts/bench.sh installs it)" >&2; exit 1; }
# CPU pinning as a command prefix (none on one CPU or without taskset).
CPU0=() CPU1=()
if command -v taskset > /dev/null && (($(nproc) > 1)); then CPU0=(taskset -c 0) CPU1=(taskset -c 1); fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
MOCK=$(free_port) SLOW=$(free_port) GW=$(free_port)
"${CPU1[@]}" "$MOCK_BIN" --listen "127.0.0.1:$MOCK" --workers 1 --chunks 16 > "$WORK/mock.log" 2>&1 &
PIDS+=($!)
# 16 pieces 25 ms apart: a stream lasts 400 ms, and the clients that hang up leave it early.
"${CPU1[@]}" "$MOCK_BIN" --listen "127.0.0.1:$SLOW" --workers 1 --chunks 16 --chunk-delay-ms 25 > "$WORK/slow.log" 2>&1 &
PIDS+=($!)
{
  printf '[server]\nlisten = "127.0.0.1:%s"\nworkers = 1\n\n[routing]\ndefault_provider = "openai"\n' "$GW"
  for kind in openai anthropic gemini bedrock cohere; do
    printf '\n[[providers]]\nname = "%s"\nkind = "%s"\nbase_url = "http://127.0.0.1:%s"\nkeys = ["sk-soak"]\n' \
      "$kind" "$kind" "$MOCK"
  done
  printf '\n[[providers]]\nname = "slow"\nkind = "anthropic"\nbase_url = "http://127.0.0.1:%s"\nkeys = ["sk-soak"]\n' "$SLOW"
} > "$WORK/sluice.toml"
"${CPU0[@]}" "$SLUICE_BIN" --config "$WORK/sluice.toml" > "$WORK/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
# Every process answers /health before the traffic starts: a mock that is still starting when
# the first wrk run begins turns that run's first requests into 502s (connection refused).
for port in "$MOCK" "$SLOW" "$GW"; do
  for try in $(seq 51); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
    ((try < 51)) || { echo "nothing answers /health on 127.0.0.1:$port after 5 s" >&2; exit 1; }
    sleep 0.1
  done
done

# run SCRIPT MODEL [EXPECT_ERRORS] [WRK_ARGS...]: one wrk run; errors are reported unless expected.
run() {
  local script=$1 model=$2 expect=${3:-0} line errors
  line=$(SLUICE_MODEL=$model "${CPU1[@]}" timeout -k 2 $((SECONDS_EACH + 15)) \
    wrk -t1 -c32 -d"${SECONDS_EACH}s" "${@:4}" -s "$ROOT/loadtest/$script.lua" "http://127.0.0.1:$GW" 2>&1 |
    grep -m1 '^RESULT ' || true)
  [[ -n $line ]] || { echo "  $script $model: no RESULT line" >&2; FAILED=1; return; }
  errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<< "$line")
  REQUESTS=$((REQUESTS + $(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<< "$line")))
  if [[ $expect == 0 && $errors != 0 ]]; then
    echo "  $script $model: $errors errors: $line" >&2
    FAILED=1
  fi
}

# hang_ups N: N clients, 20 at a time, each asking for a slow stream and leaving after its
# first bytes (wrk cannot: its timeout only counts).
hang_ups() {
  "${CPU1[@]}" timeout -k 2 60 python3 - "$GW" "$1" <<'PY' || { echo "  hang-ups: failed" >&2; FAILED=1; }
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
body = b'{"model":"slow/claude-sonnet-4","stream":true,"messages":[{"role":"user","content":"hi"}]}'
req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
       b"content-length: %d\r\n\r\n%s" % (len(body), body))
for _ in range(0, n, 20):
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
    for s in socks:
        s.sendall(req)
    for s in socks:
        if not s.recv(4096).startswith(b"HTTP/1.1 200"):
            sys.exit("a hang-up client got no 200")
        s.close()
PY
  REQUESTS=$((REQUESTS + $1))
}

metric() { curl -s "http://127.0.0.1:$GW/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$GW_PID/status"; }
fds() { ls "/proc/$GW_PID/fd" | wc -l; }

FAILED=0
declare -a RSS
echo "round  requests  rss_kib  fds"
for round in $(seq "$ROUNDS"); do
  REQUESTS=0
  for model in openai/gpt-4o-mini anthropic/claude-sonnet-4 gemini/gemini-2.5-flash \
    bedrock/anthropic.claude-sonnet-4 cohere/command-a; do
    run chat "$model"
    run chat_stream "$model"
  done
  for script in messages messages_stream responses responses_stream; do
    run "$script" gemini/gemini-2.5-flash
    run "$script" openai/gpt-4o-mini
  done
  for model in openai/cutoff anthropic/midstream gemini/cutoff bedrock/midstream cohere/midstream; do
    run chat_stream "$model"
  done
  run chat anthropic/tool
  run chat_stream bedrock/parallel
  run chat cohere/error-503 expect
  run chat_stream anthropic/error-429 expect
  hang_ups 200
  RSS[round]=$(rss)
  printf '%5d  %8d  %7d  %3d\n' "$round" "$REQUESTS" "${RSS[round]}" "$(fds)"
done

sleep 1
streams=$(metric sluice_active_streams)
conns=$(metric sluice_open_connections)
echo "after the traffic: sluice_active_streams=$streams sluice_open_connections=$conns"
[[ $streams == 0 ]] || { echo "streams left open: $streams" >&2; FAILED=1; }
[[ $conns == 1 ]] || { echo "client connections left open: $conns (1 is the scrape)" >&2; FAILED=1; }
if ((ROUNDS >= 3)); then
  base=${RSS[2]} last=${RSS[ROUNDS]}
  if ((last * 4 > base * 5)); then
    echo "RSS grew from ${base} KiB after round 2 to ${last} KiB after round $ROUNDS" >&2
    FAILED=1
  fi
fi
((FAILED == 0)) && echo "soak: ok" || { echo "soak: FAILED" >&2; exit 1; }
