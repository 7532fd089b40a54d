#!/usr/bin/env bash
# One streams-phase measurement of one gateway binary, for A/B comparisons of the stream pump
# (bench/RESULTS.md). A 1-worker gateway runs on CPU 0; sluice-streamload on CPU 1 serves the
# upstream itself and opens STREAMS streams of CHUNKS events DELAY_MS apart through it. Prints
# streamload's RESULT line (user CPU per event, memory per stream, stalls, ...).
#
#   scripts/streams-ab.sh BIN [MODEL]           MODEL: openai/gpt-4o-mini (same format, default)
#                                               or anthropic/gpt-4o-mini (translated)
#   PERF_OUT=/tmp/x.data scripts/streams-ab.sh BIN MODEL
#                                               also `perf record -g` the gateway for 4 s mid-run
#   TAP=1 scripts/streams-ab.sh BIN MODEL       also the gateway's own time per event and per new
#                                               stream (streamload's packet tap on lo: gw_* fields)
#
# Traffic goes to 127.0.0.1 only; the run ends by itself (streamload's own timeout, bounded by
# `timeout`). Build first: cargo build --release --bins.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:?usage: scripts/streams-ab.sh BIN [MODEL]}
MODEL=${2:-openai/gpt-4o-mini}
STREAMS=${STREAMS:-1000} CHUNKS=${CHUNKS:-100} DELAY_MS=${DELAY_MS:-50}
LOAD=${STREAMLOAD_BIN:-$ROOT/target/release/sluice-streamload}
[[ -x $BIN && -x $LOAD ]] || { echo "need $BIN and $LOAD (cargo build --release --bins)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port) GW=$(free_port)
WORK=$(mktemp -d)
trap '[[ -n ${GW_PID:-} ]] && kill "$GW_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cat > "$WORK/sluice.toml" <<EOF
[server]
listen = "127.0.0.1:$GW"
workers = 1

[upstream]
pool_spare = 2

[routing]
default_provider = "openai"

[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:$UP"
keys = ["sk-bench-upstream-key"]

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:$UP"
keys = ["sk-bench-upstream-key"]
EOF
taskset -c 0 "$BIN" --config "$WORK/sluice.toml" > "$WORK/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$GW") 2>/dev/null && break
  sleep 0.1
done
taskset -c 1 timeout -k 5 300 "$LOAD" --addr "127.0.0.1:$GW" --model "$MODEL" --upstream "127.0.0.1:$UP" \
  --chunks "$CHUNKS" --delay-ms "$DELAY_MS" --warmup 50 --streams "$STREAMS" --probes 200 --timeout-s 120 \
  --pid "$GW_PID" ${TAP:+--tap "$TAP"} > "$WORK/load.txt" 2>&1 &
LOAD_PID=$!
if [[ -n ${PERF_OUT:-} ]]; then
  sleep 4
  perf record -F 4999 -g -p "$GW_PID" -o "$PERF_OUT" -- sleep 4 > /dev/null 2>&1 || echo "perf record failed" >&2
fi
wait "$LOAD_PID" || true
grep -m1 '^RESULT ' "$WORK/load.txt" || { cat "$WORK/load.txt" >&2; exit 1; }
