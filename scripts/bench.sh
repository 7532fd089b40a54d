#!/usr/bin/env bash
# Sluice load benchmark: sluice-mock direct vs nginx (plain reverse proxy) vs
# sluice, all on 127.0.0.1, measured with wrk + loadtest/*.lua.
#
#   bash scripts/bench.sh                      # build, run, print the table
#   SKIP_BUILD=1 BENCH_SECONDS=5 bash scripts/bench.sh
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]          duration of each measured wrk run
#   BENCH_WARMUP_SECONDS [2]    unmeasured wrk run per target and scenario (0 = off)
#   BENCH_CONNS [64]            connections for the concurrent runs
#   BENCH_PIN [1]               pin with taskset (needs >= 2 CPUs): server side
#                               (mock + gateway) on BENCH_SERVER_CPUS [0],
#                               wrk on BENCH_CLIENT_CPUS [1]
#   BENCH_WRK_THREADS           wrk threads for the concurrent runs
#                               [1 when pinned to one CPU, else 2]
#   BENCH_SLUICE_WORKERS [1], BENCH_NGINX_WORKERS [1], BENCH_MOCK_WORKERS [1]
#   BENCH_POOL_SPARE [2]        sluice's upstream.pool_spare (0 = no spare connections)
#   MOCK_LATENCY_MS [0], STREAM_CHUNKS [16], STREAM_CHUNK_DELAY_MS [0]
#   BENCH_WRK [1]               run the wrk phase (0 = only the concurrent-streams phase)
#   BENCH_TRANSLATED [anthropic]  upstream kinds of the translated wrk targets, any of
#                               "anthropic gemini bedrock cohere": sluice-x (anthropic) and
#                               sluice-xg, sluice-xb, sluice-xc
#   BENCH_CLIENT [openai]       the wrk client's wire format: openai (Chat Completions,
#                               scenarios chat, chat_stream), responses (the Responses API:
#                               responses, responses_stream) or anthropic (Messages: messages,
#                               messages_stream). sluice is that format's own provider kind
#                               (an Anthropic client's sluice-x goes to the OpenAI kind).
#   STREAMLOAD [1]              run the concurrent-streams phase (sluice-streamload)
#   STREAMLOAD_STREAMS [1000]   concurrent streams in that phase
#   STREAMLOAD_CHUNKS [100], STREAMLOAD_DELAY_MS [50]  its upstream: events per stream, spacing
#   STREAMLOAD_PROBES [200]     streams opened one by one while the others are open (TTFB)
#   SKIP_BUILD [0]              1 = use existing target/release binaries
#   SLUICE_BIN, SLUICE_MOCK_BIN  binaries [target/release/sluice, sluice-mock]
#   BENCH_OUT [target/bench]    where run-<timestamp>/ (logs, wrk output,
#                               summary.txt, summary.md) is written
#   BENCH_TIMEOUT               hard limit for the whole run after the build,
#                               in seconds [computed from the above]
#
# Exit status: 0 ok; 1 setup failure (a process did not come up, a smoke request
# failed, wrk produced no RESULT line, ...); 2 the table was printed but some
# measured run had errors (non-2xx or socket errors).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-2}
BENCH_CONNS=${BENCH_CONNS:-64}
BENCH_PIN=${BENCH_PIN:-1}
BENCH_SERVER_CPUS=${BENCH_SERVER_CPUS:-0}
BENCH_CLIENT_CPUS=${BENCH_CLIENT_CPUS:-1}
BENCH_SLUICE_WORKERS=${BENCH_SLUICE_WORKERS:-1}
BENCH_NGINX_WORKERS=${BENCH_NGINX_WORKERS:-1}
BENCH_MOCK_WORKERS=${BENCH_MOCK_WORKERS:-1}
MOCK_LATENCY_MS=${MOCK_LATENCY_MS:-0}
STREAM_CHUNKS=${STREAM_CHUNKS:-16}
STREAM_CHUNK_DELAY_MS=${STREAM_CHUNK_DELAY_MS:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
BENCH_WRK=${BENCH_WRK:-1}
STREAMLOAD=${STREAMLOAD:-1}
STREAMLOAD_STREAMS=${STREAMLOAD_STREAMS:-1000}
STREAMLOAD_CHUNKS=${STREAMLOAD_CHUNKS:-100}
STREAMLOAD_DELAY_MS=${STREAMLOAD_DELAY_MS:-50}
STREAMLOAD_PROBES=${STREAMLOAD_PROBES:-200}
STREAMLOAD_BIN=${STREAMLOAD_BIN:-$ROOT/target/release/sluice-streamload}
SLUICE_BIN=${SLUICE_BIN:-$ROOT/target/release/sluice}
SLUICE_MOCK_BIN=${SLUICE_MOCK_BIN:-$ROOT/target/release/sluice-mock}
BENCH_OUT=${BENCH_OUT:-$ROOT/target/bench}
READY_TIMEOUT=${READY_TIMEOUT:-30}

MODEL_DIRECT="gpt-4o-mini"
MODEL_SLUICE="openai/gpt-4o-mini"
# sluice-x: the same sluice, but the model routes to an Anthropic-kind provider (the same mock,
# answering in the Anthropic format), so each request is translated OpenAI -> Anthropic -> OpenAI.
MODEL_TRANSLATED="anthropic/gpt-4o-mini"
# More translated wrk targets (BENCH_TRANSLATED): the same OpenAI client and mock, with a Gemini-,
# Bedrock- (Converse) or Cohere-kind provider behind, so each of those codecs runs end to end.
declare -A X_TARGET=([anthropic]=sluice-x [gemini]=sluice-xg [bedrock]=sluice-xb [cohere]=sluice-xc)
declare -A X_MODEL=([sluice-x]=$MODEL_TRANSLATED [sluice-xg]="gemini/gpt-4o-mini"
                    [sluice-xb]="bedrock/gpt-4o-mini" [sluice-xc]="cohere/gpt-4o-mini")
BENCH_CLIENT=${BENCH_CLIENT:-openai}
case $BENCH_CLIENT in
  openai) SCENARIOS=(chat chat_stream); CLIENT_PATH=/v1/chat/completions ;;
  responses) SCENARIOS=(responses responses_stream); CLIENT_PATH=/v1/responses ;;
  anthropic)
    SCENARIOS=(messages messages_stream); CLIENT_PATH=/v1/messages
    # The client's own format is Anthropic's: same-format through the Anthropic kind, and
    # sluice-x translated to the OpenAI kind.
    WRK_MODEL_SLUICE="anthropic/gpt-4o-mini"
    X_MODEL[sluice-x]="openai/gpt-4o-mini" ;;
  *) echo "BENCH_CLIENT: unknown client $BENCH_CLIENT (openai responses anthropic)" >&2; exit 1 ;;
esac
TARGETS=(mock nginx sluice)
for kind in ${BENCH_TRANSLATED:-anthropic}; do
  [[ -n ${X_TARGET[$kind]:-} ]] || { echo "BENCH_TRANSLATED: unknown kind $kind (anthropic gemini bedrock cohere)" >&2; exit 1; }
  TARGETS+=("${X_TARGET[$kind]}")
done
(( BENCH_WRK )) || SCENARIOS=()
CONCS=(1 "$BENCH_CONNS")

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '\n[bench] FATAL: %s\n' "$*" >&2
  exit 1
}

for v in BENCH_SECONDS BENCH_WARMUP_SECONDS BENCH_CONNS BENCH_SLUICE_WORKERS \
         BENCH_NGINX_WORKERS BENCH_MOCK_WORKERS MOCK_LATENCY_MS STREAM_CHUNKS \
         STREAM_CHUNK_DELAY_MS READY_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
(( BENCH_SECONDS > 0 )) || die "BENCH_SECONDS must be > 0"
(( BENCH_CONNS > 0 )) || die "BENCH_CONNS must be > 0"

# ---------------------------------------------------------------- processes --
PGIDS=()          # process groups we started (each process via setsid)
NAMES=()
SCRATCH=""
RUN_DIR=""

kill_group() {    # kill_group PID SIGNAL : the group if PID leads one, else PID
  local pid=$1 sig=$2 pgid
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || true
  if [[ -n $pgid && $pgid == "$pid" ]]; then
    kill "-$sig" -- "-$pid" 2>/dev/null || true
  else
    kill "-$sig" "$pid" 2>/dev/null || true
  fi
}

cleanup() {
  local rc=$? i pid deadline alive
  trap - EXIT INT TERM
  set +e
  if (( ${#PGIDS[@]} )); then
    for i in "${!PGIDS[@]}"; do kill_group "${PGIDS[$i]}" TERM; done
    deadline=$((SECONDS + 5))
    while (( SECONDS < deadline )); do
      alive=0
      for pid in "${PGIDS[@]}"; do
        if kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; then alive=1; fi
      done
      (( alive )) || break
      sleep 0.1
    done
    for pid in "${PGIDS[@]}"; do kill_group "$pid" KILL; done
    wait 2>/dev/null
  fi
  if [[ -n $SCRATCH && -d $SCRATCH ]]; then
    [[ -n $RUN_DIR && -f $SCRATCH/error.log ]] && cp "$SCRATCH/error.log" "$RUN_DIR/nginx-error.log"
    rm -rf -- "$SCRATCH"
  fi
  [[ -n $RUN_DIR ]] && log "logs and raw wrk output: $RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME LOGFILE CPUS CMD... : start CMD in its own session (so it and its
# children can be killed as one group), optionally pinned; sets STARTED_PID.
start() {
  local name=$1 logf=$2 cpus=$3; shift 3
  if [[ -n $cpus ]]; then
    setsid taskset -c "$cpus" "$@" >"$logf" 2>&1 </dev/null &
  else
    setsid "$@" >"$logf" 2>&1 </dev/null &
  fi
  STARTED_PID=$!
  PGIDS+=("$STARTED_PID"); NAMES+=("$name")
  log "started $name (pid $STARTED_PID${cpus:+, cpus $cpus}): $*"
}

show_log() {
  local logf=$1
  printf -- '---- %s (last 40 lines) ----\n' "$logf" >&2
  tail -n 40 "$logf" >&2 2>/dev/null || true
  printf -- '----\n' >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready NAME PID LOGFILE PORT EXPECT_LINE(0|1)
wait_ready() {
  local name=$1 pid=$2 logf=$3 port=$4 expect_line=$5
  local deadline=$((SECONDS + READY_TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log "$logf"
      die "$name (pid $pid) exited before becoming ready"
    fi
    if (( expect_line )) && ! grep -q "^listening on 127\.0\.0\.1:$port\$" "$logf" 2>/dev/null; then
      sleep 0.1; continue
    fi
    if port_open "$port"; then
      log "$name ready on 127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  show_log "$logf"
  if (( expect_line )); then
    die "$name did not print 'listening on 127.0.0.1:$port' and accept connections within ${READY_TIMEOUT}s"
  fi
  die "$name did not accept connections on 127.0.0.1:$port within ${READY_TIMEOUT}s"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return 0
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    port_open "$p" || { echo "$p"; return 0; }
  done
  die "could not find a free port"
}

# -------------------------------------------------------------------- tools --
ensure_tools() {
  local missing=() sudo=()
  command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
  command -v setsid >/dev/null 2>&1 || missing+=(util-linux)
  (( ${#missing[@]} )) || return 0
  if (( EUID != 0 )); then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]} and not root (no sudo): install them first"
    sudo=(sudo)
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the package lists do not know the packages yet,
  # or when a first install attempt fails (stale lists).
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
  fi
  if ! "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; then
    "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  fi
}
ensure_tools
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
command -v wrk >/dev/null && command -v curl >/dev/null && [[ -x $NGINX ]] \
  || die "nginx/wrk/curl still missing after install"

# -------------------------------------------------------------------- build --
if [[ $SKIP_BUILD != 1 ]]; then
  log "cargo build --release"
  cargo build --release || die "cargo build --release failed"
fi
[[ -x $SLUICE_BIN ]] || die "sluice binary not found/executable: $SLUICE_BIN"
[[ -x $SLUICE_MOCK_BIN ]] || die "sluice-mock binary not found/executable: $SLUICE_MOCK_BIN"

# ----------------------------------------------------------------- pinning --
NCPU=$(nproc)
SERVER_PIN=""; CLIENT_PIN=""
if [[ $BENCH_PIN == 1 ]]; then
  if (( NCPU >= 2 )); then
    SERVER_PIN=$BENCH_SERVER_CPUS; CLIENT_PIN=$BENCH_CLIENT_CPUS
  else
    log "only $NCPU CPU: not pinning"
  fi
fi
if [[ -z ${BENCH_WRK_THREADS:-} ]]; then
  if [[ -n $CLIENT_PIN && $CLIENT_PIN =~ ^[0-9]+$ ]]; then BENCH_WRK_THREADS=1; else BENCH_WRK_THREADS=2; fi
fi
(( BENCH_WRK_THREADS > BENCH_CONNS )) && BENCH_WRK_THREADS=$BENCH_CONNS
WRK_PIN=()
[[ -n $CLIENT_PIN ]] && WRK_PIN=(taskset -c "$CLIENT_PIN")

# ------------------------------------------------------------------ workdir --
TS=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=$BENCH_OUT/run-$TS
mkdir -p "$RUN_DIR"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
chmod 755 "$SCRATCH"

# Hard bound on the whole run (the build is not counted).
RUNS=$(( ${#TARGETS[@]} * ${#SCENARIOS[@]} * ${#CONCS[@]} ))
WARMS=$(( ${#TARGETS[@]} * ${#SCENARIOS[@]} ))
BENCH_TIMEOUT=${BENCH_TIMEOUT:-$(( RUNS * (BENCH_SECONDS + 20) + WARMS * (BENCH_WARMUP_SECONDS + 20) + 3 * READY_TIMEOUT + 60 + STREAMLOAD * 400 ))}
setsid bash -c "sleep $BENCH_TIMEOUT; echo '[bench] FATAL: global timeout of ${BENCH_TIMEOUT}s reached' >&2; kill -TERM $$" \
  </dev/null >/dev/null 2>&1 &
PGIDS+=("$!"); NAMES+=(watchdog)

# ----------------------------------------------------------------- machine --
{
  echo "date_utc:    $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "nproc:       $NCPU"
  echo "cpu:         $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
  echo "kernel:      $(uname -r)"
  echo "memory:      $(free -h 2>/dev/null | awk '/^Mem:/{print $2}')"
  echo "nginx:       $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
  echo "wrk:         $(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
  echo "git:         $(git rev-parse --short HEAD 2>/dev/null || echo none)$( [[ -n $(git status --porcelain 2>/dev/null | grep -v '^??' || true) ]] && echo ' (dirty)')"
  echo "client:      $BENCH_CLIENT ($CLIENT_PATH)"
  echo "params:      BENCH_SECONDS=$BENCH_SECONDS warmup=${BENCH_WARMUP_SECONDS}s conns=1,$BENCH_CONNS wrk_threads(c>1)=$BENCH_WRK_THREADS"
  echo "workers:     sluice=$BENCH_SLUICE_WORKERS nginx=$BENCH_NGINX_WORKERS mock=$BENCH_MOCK_WORKERS (sluice pool_spare=${BENCH_POOL_SPARE:-2})"
  echo "pinning:     server(mock+gateway)=${SERVER_PIN:-none} wrk=${CLIENT_PIN:-none}"
  echo "mock:        latency_ms=$MOCK_LATENCY_MS stream chunks=$STREAM_CHUNKS chunk_delay_ms=$STREAM_CHUNK_DELAY_MS"
} > "$RUN_DIR/machine.txt"
cat "$RUN_DIR/machine.txt" >&2

# ---------------------------------------------------------------- start all --
MOCK_PORT=$(free_port)
start sluice-mock "$RUN_DIR/mock.log" "$SERVER_PIN" \
  "$SLUICE_MOCK_BIN" --listen "127.0.0.1:$MOCK_PORT" --workers "$BENCH_MOCK_WORKERS" \
  --latency-ms "$MOCK_LATENCY_MS" --chunks "$STREAM_CHUNKS" --chunk-delay-ms "$STREAM_CHUNK_DELAY_MS"
MOCK_PID=$STARTED_PID
wait_ready sluice-mock "$MOCK_PID" "$RUN_DIR/mock.log" "$MOCK_PORT" 1

NGINX_PORT=$(free_port)
USER_LINE=""
(( EUID == 0 )) && USER_LINE="user root;"
sed -e "s#@PREFIX@#$SCRATCH#g" -e "s#@USER_LINE@#$USER_LINE#g" \
    -e "s#@WORKER_PROCESSES@#$BENCH_NGINX_WORKERS#g" \
    -e "s#@LISTEN_PORT@#$NGINX_PORT#g" -e "s#@UPSTREAM_PORT@#$MOCK_PORT#g" \
    "$ROOT/loadtest/nginx.conf.template" > "$SCRATCH/nginx.conf"
grep -q '@[A-Z_]*@' "$SCRATCH/nginx.conf" && die "unsubstituted placeholder in nginx.conf"
cp "$SCRATCH/nginx.conf" "$RUN_DIR/nginx.conf"
NGINX_ARGS=(-p "$SCRATCH/" -c "$SCRATCH/nginx.conf")
NGINX_HELP=$("$NGINX" -h 2>&1 || true)
[[ $NGINX_HELP == *"-e filename"* ]] && NGINX_ARGS+=(-e "$SCRATCH/error.log")
"$NGINX" -t "${NGINX_ARGS[@]}" >"$RUN_DIR/nginx-t.log" 2>&1 \
  || { show_log "$RUN_DIR/nginx-t.log"; die "nginx -t rejected the generated config"; }
start nginx "$RUN_DIR/nginx.log" "$SERVER_PIN" "$NGINX" "${NGINX_ARGS[@]}"
NGINX_PID=$STARTED_PID
wait_ready nginx "$NGINX_PID" "$RUN_DIR/nginx.log" "$NGINX_PORT" 0

SLUICE_PORT=$(free_port)
cat > "$RUN_DIR/sluice.toml" <<EOF
# generated by scripts/bench.sh
[server]
listen = "127.0.0.1:$SLUICE_PORT"
workers = $BENCH_SLUICE_WORKERS
max_body_bytes = 1048576

[upstream]
# Spare connections: a new stream finds one ready instead of connecting (README, Upstream pool).
pool_spare = ${BENCH_POOL_SPARE:-2}

[routing]
default_provider = "openai"

[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT"
keys = ["sk-bench-upstream-key"]
models = ["gpt-4o-mini"]
EOF
# One provider of each other kind, all served by the same mock (the translated targets).
for kind in anthropic gemini bedrock cohere; do
  printf '\n[[providers]]\nname = "%s"\nkind = "%s"\nbase_url = "http://127.0.0.1:%s"\nkeys = ["sk-bench-upstream-key"]\n' \
    "$kind" "$kind" "$MOCK_PORT" >> "$RUN_DIR/sluice.toml"
done
start sluice "$RUN_DIR/sluice.log" "$SERVER_PIN" "$SLUICE_BIN" --config "$RUN_DIR/sluice.toml"
SLUICE_PID=$STARTED_PID
wait_ready sluice "$SLUICE_PID" "$RUN_DIR/sluice.log" "$SLUICE_PORT" 1

declare -A PORT=([mock]=$MOCK_PORT [nginx]=$NGINX_PORT [sluice]=$SLUICE_PORT)
declare -A PID=([mock]=$MOCK_PID [nginx]=$NGINX_PID [sluice]=$SLUICE_PID)
declare -A LOGF=([mock]=$RUN_DIR/mock.log [nginx]=$RUN_DIR/nginx.log [sluice]=$RUN_DIR/sluice.log)
for t in "${X_TARGET[@]}"; do
  PORT[$t]=$SLUICE_PORT PID[$t]=$SLUICE_PID LOGF[$t]=$RUN_DIR/sluice.log
done
model_for() {
  case $1 in
    sluice) echo "${WRK_MODEL_SLUICE:-$MODEL_SLUICE}" ;;
    sluice-x*) echo "${X_MODEL[$1]}" ;;
    *) echo "$MODEL_DIRECT" ;;
  esac
}
skip() { false; }

check_alive() {
  local t
  for t in "${TARGETS[@]}"; do
    kill -0 "${PID[$t]}" 2>/dev/null || { show_log "${LOGF[$t]}"; die "$t (pid ${PID[$t]}) died"; }
  done
}

# ------------------------------------------------------------- smoke tests --
body_json() {  # body_json MODEL STREAM(0|1): a small request of BENCH_CLIENT's format
  local s=""
  (( $2 )) && s=',"stream":true'
  case $BENCH_CLIENT in
    responses) printf '{"model":"%s","input":"ping","max_output_tokens":16%s}' "$1" "$s" ;;
    *) printf '{"model":"%s","messages":[{"role":"user","content":"ping"}],"max_tokens":16%s}' "$1" "$s" ;;
  esac
}
# What a complete answer of BENCH_CLIENT's format holds: a body's key, a stream's last event.
case $BENCH_CLIENT in
  openai) ANSWER_MARK='"choices"'; STREAM_END='^data: \[DONE\]' ;;
  responses) ANSWER_MARK='"output"'; STREAM_END='^event: response\.completed' ;;
  anthropic) ANSWER_MARK='"content"'; STREAM_END='^event: message_stop' ;;
esac
smoke() {  # smoke TARGET STREAM
  local t=$1 stream=$2 out code
  out="$RUN_DIR/smoke-$t-$stream.txt"
  code=$(curl -sS -m 10 -o "$out" -w '%{http_code}' \
    -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-loadtest' \
    -H 'x-api-key: sk-loadtest' -H 'anthropic-version: 2023-06-01' \
    --data-binary "$(body_json "$(model_for "$t")" "$stream")" \
    "http://127.0.0.1:${PORT[$t]}$CLIENT_PATH") || code="curl-failed"
  if [[ $code != 200 ]]; then
    head -c 2000 "$out" >&2 2>/dev/null; echo >&2
    show_log "${LOGF[$t]}"
    die "smoke request to $t (stream=$stream) returned HTTP $code"
  fi
  if (( stream )); then
    grep -q "$STREAM_END" "$out" \
      || { head -c 2000 "$out" >&2; die "smoke: $t stream response does not end as a $BENCH_CLIENT stream ($STREAM_END)"; }
  else
    grep -q "$ANSWER_MARK" "$out" \
      || { head -c 2000 "$out" >&2; die "smoke: $t response has no $ANSWER_MARK"; }
  fi
}
for t in "${TARGETS[@]}"; do smoke "$t" 0; skip "$t" 1 - || smoke "$t" 1; done
log "smoke requests ok (non-stream + stream on mock, nginx, sluice)"

# --------------------------------------------------------------------- runs --
declare -A RES
ANY_ERRORS=0
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

run_wrk() {  # run_wrk TARGET SCRIPT CONNS SECONDS OUTFILE -> prints RESULT line
  local t=$1 script=$2 c=$3 secs=$4 out=$5 th=1
  (( c > 1 )) && th=$BENCH_WRK_THREADS
  if ! SLUICE_MODEL=$(model_for "$t") timeout -k 5 $((secs + 15)) \
      "${WRK_PIN[@]}" wrk -t"$th" -c"$c" -d"${secs}s" --timeout 10s --latency \
      -s "$ROOT/loadtest/$script.lua" "http://127.0.0.1:${PORT[$t]}" >"$out" 2>&1; then
    cat "$out" >&2; check_alive
    die "wrk failed against $t ($script, c=$c)"
  fi
  check_alive
  grep -m1 '^RESULT ' "$out" || { cat "$out" >&2; die "no RESULT line from wrk against $t ($script, c=$c)"; }
}

for sc in "${SCENARIOS[@]}"; do
  for t in "${TARGETS[@]}"; do
    skip "$t" 0 "$sc" && continue
    if (( BENCH_WARMUP_SECONDS > 0 )); then
      run_wrk "$t" "$sc" "$BENCH_CONNS" "$BENCH_WARMUP_SECONDS" "$RUN_DIR/warmup-$t-$sc.txt" >/dev/null
    fi
    for c in "${CONCS[@]}"; do
      log "wrk $t $sc c=$c ${BENCH_SECONDS}s"
      line=$(run_wrk "$t" "$sc" "$c" "$BENCH_SECONDS" "$RUN_DIR/wrk-$t-$sc-c$c.txt")
      echo "target=$t scenario=$sc conns=$c $line" >> "$RUN_DIR/results.txt"
      for k in rps p50_us p90_us p99_us p999_us errors requests; do
        RES[$t,$sc,$c,$k]=$(field "$line" "$k")
      done
      if (( ${RES[$t,$sc,$c,errors]:-1} != 0 )); then
        ANY_ERRORS=1
        log "WARNING: $t $sc c=$c had ${RES[$t,$sc,$c,errors]} errors (see $RUN_DIR/wrk-$t-$sc-c$c.txt)"
      fi
    done
  done
done

# -------------------------------------------------------------------- table --
added() {  # added TARGET SC C KEY
  if [[ $1 == mock || $3 != 1 ]]; then echo "-"; return; fi
  echo $(( ${RES[$1,$2,$3,$4]} - ${RES[mock,$2,$3,$4]} ))
}
{
  cat "$RUN_DIR/machine.txt"
  echo
  printf '%-9s %-12s %6s %11s %9s %9s %9s %10s %10s %7s\n' \
    target scenario conns 'req/s' p50_us p99_us p999_us '+p50_us' '+p99_us' errors
  for sc in "${SCENARIOS[@]}"; do
    for c in "${CONCS[@]}"; do
      for t in "${TARGETS[@]}"; do
        skip "$t" 0 "$sc" && continue
        printf '%-9s %-12s %6s %11s %9s %9s %9s %10s %10s %7s\n' \
          "$t" "$sc" "$c" "${RES[$t,$sc,$c,rps]}" "${RES[$t,$sc,$c,p50_us]}" \
          "${RES[$t,$sc,$c,p99_us]}" "${RES[$t,$sc,$c,p999_us]}" \
          "$(added "$t" "$sc" "$c" p50_us)" "$(added "$t" "$sc" "$c" p99_us)" \
          "${RES[$t,$sc,$c,errors]}"
      done
    done
  done
  echo
  echo "+p50_us/+p99_us: latency added over sluice-mock direct at c=1 (same scenario)."
  for t in "${TARGETS[@]}"; do
    [[ $t == sluice-x* ]] || continue
    for c in "${CONCS[@]}"; do
      a=${RES[sluice,${SCENARIOS[0]:-},$c,rps]:-0} b=${RES[$t,${SCENARIOS[0]:-},$c,rps]:-0}
      if [[ $a != 0 && $b != 0 ]]; then
        echo "translated cost ($t, $(model_for "$t")) at c=$c: same-format req/s / translated req/s = $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}')x (target <= 1.3x)"
      fi
    done
  done
} > "$RUN_DIR/summary.txt"

{
  echo "| target | scenario | conns | req/s | p50 µs | p99 µs | p99.9 µs | +p50 µs vs direct | +p99 µs vs direct | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for sc in "${SCENARIOS[@]}"; do
    for c in "${CONCS[@]}"; do
      for t in "${TARGETS[@]}"; do
        skip "$t" 0 "$sc" && continue
        echo "| $t | $sc | $c | ${RES[$t,$sc,$c,rps]} | ${RES[$t,$sc,$c,p50_us]} | ${RES[$t,$sc,$c,p99_us]} | ${RES[$t,$sc,$c,p999_us]} | $(added "$t" "$sc" "$c" p50_us) | $(added "$t" "$sc" "$c" p99_us) | ${RES[$t,$sc,$c,errors]} |"
      done
    done
  done
} > "$RUN_DIR/summary.md"

# ------------------------------------------------------- concurrent streams --
# STREAMLOAD_STREAMS streams open together through each target (opened evenly over one event
# spacing, as independent clients would, each on a fixed event schedule). sluice-streamload serves the
# upstream itself (paced: STREAMLOAD_CHUNKS text events STREAMLOAD_DELAY_MS apart, each stamped
# with its write time) on the same thread as its clients, on the load CPU; the gateway under test
# has the other CPU to itself. Rows: the upstream directly, nginx as a plain proxy, Sluice
# same-format, Sluice translated (Anthropic upstream -> OpenAI client). Reported: time to first
# event of probe streams opened while all the others are open, each event's latency (stamp to
# client read), the time the gateway itself holds each event and each probe (a packet tap on lo,
# see loadtest/tap.rs), stalled streams, and the gateway's RSS growth per open stream and CPU
# per event.
if (( STREAMLOAD )); then
  [[ -x $STREAMLOAD_BIN ]] || die "sluice-streamload not found: $STREAMLOAD_BIN"
  SL_UP_PORT=$(free_port)
  SL_PORT=$(free_port)
  sed -e "s/127.0.0.1:$SLUICE_PORT/127.0.0.1:$SL_PORT/" -e "s/127.0.0.1:$MOCK_PORT/127.0.0.1:$SL_UP_PORT/g" \
    "$RUN_DIR/sluice.toml" > "$RUN_DIR/sluice-streams.toml"
  start sluice-streams "$RUN_DIR/sluice-streams.log" "$SERVER_PIN" "$SLUICE_BIN" --config "$RUN_DIR/sluice-streams.toml"
  SL_PID=$STARTED_PID
  wait_ready sluice-streams "$SL_PID" "$RUN_DIR/sluice-streams.log" "$SL_PORT" 1
  SL_NGINX_PORT=$(free_port)
  mkdir -p "$SCRATCH/streams"
  sed -e "s#@PREFIX@#$SCRATCH/streams#g" -e "s#@USER_LINE@#$USER_LINE#g" \
      -e "s#@WORKER_PROCESSES@#$BENCH_NGINX_WORKERS#g" \
      -e "s#@LISTEN_PORT@#$SL_NGINX_PORT#g" -e "s#@UPSTREAM_PORT@#$SL_UP_PORT#g" \
      "$ROOT/loadtest/nginx.conf.template" > "$SCRATCH/streams/nginx.conf"
  sed -i 's/worker_connections 4096;/worker_connections 8192;/' "$SCRATCH/streams/nginx.conf"
  SL_NGINX_ARGS=(-p "$SCRATCH/streams/" -c "$SCRATCH/streams/nginx.conf")
  [[ $NGINX_HELP == *"-e filename"* ]] && SL_NGINX_ARGS+=(-e "$SCRATCH/streams/error.log")
  start nginx-streams "$RUN_DIR/nginx-streams.log" "$SERVER_PIN" "$NGINX" "${SL_NGINX_ARGS[@]}"
  SL_NGINX_PID=$STARTED_PID
  wait_ready nginx-streams "$SL_NGINX_PID" "$RUN_DIR/nginx-streams.log" "$SL_NGINX_PORT" 0
  SL_LOAD_PIN=()
  [[ -n $CLIENT_PIN ]] && SL_LOAD_PIN=(taskset -c "$CLIENT_PIN")
  streamload() {  # streamload NAME PORT MODEL [PID]
    local out="$RUN_DIR/streamload-$1.txt" pidarg=()
    [[ -n ${4:-} ]] && pidarg=(--pid "$4")
    log "streamload $1: $STREAMLOAD_STREAMS concurrent streams, $STREAMLOAD_PROBES probes"
    "${SL_LOAD_PIN[@]}" timeout -k 5 300 "$STREAMLOAD_BIN" --addr "127.0.0.1:$2" --model "$3" \
      --upstream "127.0.0.1:$SL_UP_PORT" --chunks "$STREAMLOAD_CHUNKS" --delay-ms "$STREAMLOAD_DELAY_MS" \
      --warmup 50 --streams "$STREAMLOAD_STREAMS" --probes "$STREAMLOAD_PROBES" --timeout-s 120 --tap 1 "${pidarg[@]}" \
      >"$out" 2>&1 || log "WARNING: streamload $1 reported errors or stalls (see $out)"
    grep -m1 '^RESULT ' "$out" || { cat "$out" >&2; die "no RESULT from streamload $1"; }
  }
  # nginx's worker is a child of its master: report the worker's figures.
  NGINX_WORKER=$(pgrep -P "$SL_NGINX_PID" | head -n1)
  declare -A SL
  for row in "direct $SL_UP_PORT $MODEL_DIRECT -" "nginx $SL_NGINX_PORT $MODEL_DIRECT ${NGINX_WORKER:--}" \
             "sluice $SL_PORT $MODEL_SLUICE $SL_PID" "sluice-x $SL_PORT $MODEL_TRANSLATED $SL_PID"; do
    read -r name port model pid <<<"$row"
    [[ $pid == - ]] && pid=""
    SL[$name]=$(streamload "$name" "$port" "$model" "$pid")
  done
  {
    echo
    echo "concurrent streams: $STREAMLOAD_STREAMS open together (opened over one event spacing), $STREAMLOAD_CHUNKS events ${STREAMLOAD_DELAY_MS} ms apart; $STREAMLOAD_PROBES probe streams (sluice-streamload)"
    printf '%-8s %8s %7s %6s %8s %8s %9s %8s %8s %8s %8s %9s %8s %8s %8s %10s %9s %9s\n' target complete stalled errors \
      ttfb_p50 ttfb_p99 '+ttfb_p99' gw_ttfb50 gw_ttfb99 ev_p50 ev_p99 '+ev_mean' gw_ev50 gw_ev99 gw_evmean \
      KiB/stream cpu/event user/event
    for t in direct nginx sluice sluice-x; do
      l=${SL[$t]} m=${SL[direct]}
      printf '%-8s %8s %7s %6s %8s %8s %9s %8s %8s %8s %8s %9s %8s %8s %8s %10s %9s %9s\n' "$t" "$(field "$l" complete)" \
        "$(field "$l" stalled)" "$(field "$l" errors)" "$(field "$l" ttfb_p50_us)" "$(field "$l" ttfb_p99_us)" \
        "$(( $(field "$l" ttfb_p99_us) - $(field "$m" ttfb_p99_us) ))" \
        "$(field "$l" gw_ttfb_p50_us)" "$(field "$l" gw_ttfb_p99_us)" \
        "$(field "$l" event_p50_us)" "$(field "$l" event_p99_us)" \
        "$(awk -v a="$(field "$l" event_mean_us)" -v b="$(field "$m" event_mean_us)" 'BEGIN{printf "%.1f", a-b}')" \
        "$(field "$l" gw_event_p50_us)" "$(field "$l" gw_event_p99_us)" "$(field "$l" gw_event_mean_us)" \
        "$(field "$l" rss_per_stream_kib)" "$(field "$l" cpu_per_event_us)" "$(field "$l" user_cpu_per_event_us)"
    done
    echo "times in us. Client view: ttfb_* = probe streams' time to first event; ev_* = each event's latency from"
    echo "the upstream's write to the client's read; +ttfb_p99 and +ev_mean = added over the upstream direct."
    echo "Gateway view (packet tap on lo, kernel transmit timestamps; 0 when the tap could not open): gw_ttfb* ="
    echo "time the gateway holds a probe (request in -> request upstream, plus first event in -> first event out),"
    echo "gw_ev* = time from the upstream's packet carrying an event to the gateway's packet carrying it on."
    echo "KiB/stream: RSS growth / open streams; cpu/event: CPU time (user+system) / events forwarded, user/event"
    echo "the user-space part (nginx: its worker process). Targets: added TTFB p99 < 100, added per event < 2,"
    echo "< 16 KiB per stream, zero stalled."
  } >> "$RUN_DIR/summary.txt"
fi

echo
cat "$RUN_DIR/summary.txt"
echo "(markdown table: $RUN_DIR/summary.md)"

if (( ANY_ERRORS )); then
  log "some runs had errors: exit 2"
  exit 2
fi
