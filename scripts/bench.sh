#!/usr/bin/env bash
# bench.sh: Prefork side by side with its peers (Kestrel, nginx, gunicorn if installable) on 127.0.0.1.
#
#   scripts/bench.sh                         # 2 interleaved rounds, 5 s per wrk run (a few minutes in all)
#   scripts/bench.sh --rounds 3 --duration 10 --out bench.md
#   scripts/bench.sh --only core             # the rounds on /hello beside Kestrel and nginx, worker kills, spread
#   scripts/bench.sh --only aspnet           # the ASP.NET Core scenario alone (about two minutes)
#   scripts/bench.sh --only static,busy,post # static files, many busy connections, POST bodies
#   scripts/bench.sh --only hold             # idle keep-alive connections: memory per connection beside nginx
#   scripts/bench.sh --only tls              # Prefork's TLS beside nginx's (scripts/bench/tls.sh)
#
# Installs wrk, nginx and, if there is no C compiler, clang (Debian packages; gunicorn too if it can),
# publishes Prefork as it is deployed (dotnet publish: NativeAOT master and workers, README "Deploying")
# and builds the Kestrel peer (bench/Kestrel), then runs every server in turn, Prefork and a peer alternating, for
# --rounds rounds: wrk -t1 -c64 --latency GET /hello, keep-alive, keep-alive paced (scripts/bench/paced.lua: p99
# while wrk is not the bottleneck) and with Connection: close. Then the
# extra figures: idle RSS, time from a worker's SIGKILL to its replacement serving, spread of requests
# over workers, 10,000 idle keep-alive connections on 2 workers. The ASP.NET Core scenario: one minimal API
# app (scripts/bench/aspnet, on the SDK's `dotnet new web`) on Kestrel alone and under the Prefork master
# (--app) with 2 and 4 workers, rounds interleaved as above, keep-alive on /hello and /json, /hello paced, and each app
# process's RSS. Then, in rounds of their own (scripts/bench/scenarios.sh): static files (4 KB and 1 MB from
# --root, beside nginx with sendfile, with CPU per request), many busy connections (1,000 and 10,000 keep-alive
# clients beside nginx and Kestrel) and POST /echo with 1 KB and 64 KB bodies beside Kestrel. Prints one
# markdown report (medians of the
# rounds) with PASS/MISS against the issue's targets. A benchmark, not a test: the exit code does not
# depend on the targets. Everything it starts is stopped by pid on exit.
set -euo pipefail

ROUNDS=2
DURATION=5
CONNS=64
HOLD_CONNS=10000
HOLD_WAIT=5
HOLD_BIG=0
HOLD_BIG_WORKERS=2
# A client process holds at most this many connections (it needs a descriptor for each, below the hard limit).
HOLD_PER_PROC=15000
# The idle timeout of the held connections, Prefork's and nginx's alike: opening 100,000 takes over a minute on a busy
# machine, and nginx's default 75 s closed the first ones before their second request.
HOLD_KEEPALIVE=120
KILL_TRIALS=5
SPREAD_WORKERS=4
GUNICORN=1
INSTALL=1
ONLY=''
OUT=''
PUBLISHED=''
READY_TIMEOUT=30     # seconds a server gets to answer after start
STOP_TIMEOUT=15      # seconds a server gets to stop after SIGTERM before SIGKILL

COMMAND="$(printf '%q ' "$0" "$@")"
COMMAND="${COMMAND% }"

usage() {
    cat <<EOF
Usage: scripts/bench.sh [options]

Options:
  --rounds N          interleaved rounds of every server and scenario (default: $ROUNDS, at least 2)
  --duration S        seconds per measured wrk run (default: $DURATION)
  --hold-conns N      idle keep-alive connections to hold on 2 workers (default: $HOLD_CONNS)
  --hold-wait S       seconds they stay idle before the second request (default: $HOLD_WAIT)
  --hold-big N        also hold N (e.g. 100000) on 2 workers, Prefork and nginx (default: none); each worker
                      needs a descriptor per connection: N/2 + 100 must fit the hard open-file limit
  --hold-big-workers W  the workers, Prefork's and nginx's, that hold the --hold-big connections (default:
                      $HOLD_BIG_WORKERS); each needs about N/W descriptors, so more workers fit a lower hard limit
  --kill-trials N     worker SIGKILLs to time (default: $KILL_TRIALS)
  --spread-workers N  async workers in the spread-over-workers run (default: $SPREAD_WORKERS)
  --no-gunicorn       leave gunicorn out
  --no-install        do not apt-get anything (use what is installed)
  --only NAME[,NAME]  run only these scenarios: core (the rounds on /hello beside Kestrel, nginx and gunicorn,
                      then the worker kill and spread figures), aspnet (Kestrel alone vs the app under Prefork), static
                      (files vs nginx), busy (1,000 and 10,000 keep-alive clients), post (POST /echo vs Kestrel), hold
                      (idle keep-alive connections on Prefork and nginx: memory per connection); tls (Prefork and nginx
                      over https, same certificate: runs alone, with its own report)
  --prefork DIR       measure the Prefork published in DIR (dotnet publish -c Release src/Master -o DIR)
                      instead of publishing it here
  --out FILE          also write the report to FILE
  -h, --help          this help
EOF
}

die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (try --help)"; }
is_count() { [[ "$1" =~ ^[0-9]+$ && "$1" -ge 1 ]]; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds)         need_value "$@"; ROUNDS="$2"; shift 2 ;;
        --duration)       need_value "$@"; DURATION="$2"; shift 2 ;;
        --hold-conns)     need_value "$@"; HOLD_CONNS="$2"; shift 2 ;;
        --hold-wait)      need_value "$@"; HOLD_WAIT="$2"; shift 2 ;;
        --hold-big)       need_value "$@"; HOLD_BIG="$2"; shift 2 ;;
        --hold-big-workers) need_value "$@"; HOLD_BIG_WORKERS="$2"; shift 2 ;;
        --kill-trials)    need_value "$@"; KILL_TRIALS="$2"; shift 2 ;;
        --spread-workers) need_value "$@"; SPREAD_WORKERS="$2"; shift 2 ;;
        --out)            need_value "$@"; OUT="$2"; shift 2 ;;
        --prefork)        need_value "$@"; PUBLISHED="$(cd "$2" && pwd)" || die "--prefork: no such directory '$2'"; shift 2 ;;
        --only)           need_value "$@"; ONLY="$2"; shift 2 ;;
        --no-gunicorn)    GUNICORN=0; shift ;;
        --no-install)     INSTALL=0; shift ;;
        -h|--help)        usage; exit 0 ;;
        *)                die "unknown option '$1' (try --help)" ;;
    esac
done
for name in ${ONLY//,/ }; do
    [[ "$name" =~ ^(core|aspnet|static|busy|post|hold|tls)$ ]] || die "--only takes core, aspnet, static, busy, post, hold or tls, comma-separated (got '$name')"
done
# wants NAME: the scenario runs (every one does without --only).
wants() { [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]; }
[[ "$ONLY" != *tls* || "$ONLY" == tls ]] || die "--only tls runs alone (got '$ONLY')"
{ is_count "$ROUNDS" && [[ "$ROUNDS" -ge 2 ]]; } || die "--rounds must be a whole number >= 2 (got '$ROUNDS')"
[[ "$HOLD_BIG" =~ ^[0-9]+$ ]] || die "--hold-big must be a whole number (got '$HOLD_BIG')"
for v in DURATION HOLD_CONNS HOLD_WAIT HOLD_BIG_WORKERS KILL_TRIALS SPREAD_WORKERS; do
    is_count "${!v}" || die "--$(tr 'A-Z_' 'a-z-' <<<"$v") must be a whole number >= 1 (got '${!v}')"
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/bench"
# The interpreter itself, not a version-manager shim (a pyenv shim costs seconds per call on a busy machine).
PYTHON="$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)"
[[ -x "$PYTHON" ]] || PYTHON=python3
TOOLS=("$PYTHON" "$HERE/tools.py")
KESTREL_DIR="$ROOT/bench/Kestrel/bin/bench"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prefork-bench.XXXXXX")"
MASTER_BIN="${PUBLISHED:-$WORK/prefork}/Prefork.Master"
ASPNET_DIR="$WORK/aspnet"
ASPNET_DLL=''
RESULTS="$WORK/results"
FILES="$WORK/files"     # the static files scenario's root, served at /static/ by Prefork and nginx alike
NGINX_CONNS=4096        # nginx's worker_connections (the busy scenario raises it)
NGINX_KEEPALIVE=75      # nginx's keepalive_timeout, its default (the hold scenarios set Prefork's)
EXTRAS="$WORK/extras"
: >"$RESULTS"
: >"$EXTRAS"
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
START_SECONDS=$SECONDS

log() { printf '[bench %4ds] %s\n' "$((SECONDS - START_SECONDS))" "$*" >&2; }

# ---------------------------------------------------------------------------------------------------------
# Servers: one at a time. SRV_PID is the process this script started (master / only process); SRV_TREE its
# descendants as "pid starttime" (so cleanup never kills a reused pid).
# ---------------------------------------------------------------------------------------------------------
SRV_PID=''
SRV_START=''
SRV_PORT=''
SRV_LOG=''
SRV_TREE="$WORK/tree"

# pid_alive PID STARTTIME: the process runs (not a zombie) and is the one seen before (not a reused pid).
# Pure bash: it is called in loops.
pid_alive() {
    local line f
    [[ -n "$1" && -n "$2" ]] || return 1
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    line="${line##*) }"
    read -ra f <<<"$line"
    [[ "${f[0]}" != Z && "${f[19]}" == "$2" ]]
}
# start_time PID: field 22 of /proc/PID/stat.
start_time() {
    local line f
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
    line="${line##*) }"
    read -ra f <<<"$line"
    echo "${f[19]}"
}

stop_server() {
    local pid="$SRV_PID" start="$SRV_START" i p st
    [[ -n "$pid" ]] || return 0
    SRV_PID=''
    # Remember the children now: after the master exits they are no longer its descendants.
    "${TOOLS[@]}" tree "$pid" >>"$SRV_TREE" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        pid_alive "$pid" "$start" || break
        sleep 0.1
    done
    if pid_alive "$pid" "$start"; then
        log "warning: pid $pid did not stop within ${STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    # Children exit with their master; any that did not is killed (by pid, same start time only).
    for ((i = 0; i < 30; i++)); do
        local left=0
        while read -r p st; do pid_alive "$p" "$st" && left=1; done <"$SRV_TREE"
        [[ $left -eq 0 ]] && break
        sleep 0.1
    done
    while read -r p st; do
        if pid_alive "$p" "$st"; then
            log "warning: child pid $p outlived its server; killing it"
            kill -KILL "$p" 2>/dev/null || true
        fi
    done <"$SRV_TREE"
    : >"$SRV_TREE"
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    # wrk / python / builds still running: this shell's own children only.
    for pid in $(jobs -p); do [[ "$pid" == "$SRV_PID" ]] || kill -TERM "$pid" 2>/dev/null || true; done
    stop_server
    for pid in $(jobs -p); do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo >&2; log "interrupted"; exit 130' INT
trap 'exit 143' TERM

# start_server KIND WORKERS [EXTRA PREFORK ARGS...]: KIND is async, sync, kestrel, nginx or gunicorn; or, for the
# ASP.NET Core app, app-prefork (under the master) or app-kestrel (alone).
# start_nginx NAME TEMPLATE SED_ARGS...: nginx on a free port, in $WORK/NAME, with scripts/bench/TEMPLATE's config
# (@DIR@ and @PORT@ filled in here, the rest by SED_ARGS). Sets SRV_PORT and SRV_PID.
start_nginx() {
    local dir="$WORK/$1" template="$2"
    shift 2
    SRV_PORT="$("${TOOLS[@]}" freeport)"
    mkdir -p "$dir/logs"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$SRV_PORT|g" "$@" "$HERE/$template" >"$dir/nginx.conf"
    nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$SRV_LOG" 2>&1 </dev/null &
    SRV_PID=$!
}

start_server() {
    local kind="$1" workers="$2" i code ready
    shift 2
    SRV_LOG="$WORK/$kind-$workers-$RANDOM.log"
    SRV_PORT=''
    case "$kind" in
        async|sync)
            "$MASTER_BIN" --bind 127.0.0.1:0 --workers "$workers" --worker-class "$kind" "$@" \
                2>"$SRV_LOG" </dev/null >/dev/null &
            SRV_PID=$! ;;
        app-prefork)
            "$MASTER_BIN" --bind 127.0.0.1:0 --workers "$workers" --app "$ASPNET_DLL" "$@" \
                2>"$SRV_LOG" </dev/null >/dev/null &
            SRV_PID=$! ;;
        app-kestrel)
            SRV_PORT="$("${TOOLS[@]}" freeport)"
            # From its folder, as the master starts it: the content root, and so appsettings.json, is there.
            (cd "$(dirname "$ASPNET_DLL")" && exec dotnet "$ASPNET_DLL" --urls "http://127.0.0.1:$SRV_PORT") \
                >"$SRV_LOG" 2>&1 </dev/null &
            SRV_PID=$! ;;
        kestrel)
            SRV_PORT="$("${TOOLS[@]}" freeport)"
            ASPNETCORE_URLS="http://127.0.0.1:$SRV_PORT" "$KESTREL_DIR/Kestrel" >"$SRV_LOG" 2>&1 </dev/null &
            SRV_PID=$! ;;
        nginx)
            start_nginx nginx nginx.conf.in -e "s|@WORKERS@|$workers|g" -e "s|@CONNS@|$NGINX_CONNS|g" \
                -e "s|@KEEPALIVE@|$NGINX_KEEPALIVE|g" -e "s|@FILES@|$FILES|g" ;;
        gunicorn)
            SRV_PORT="$("${TOOLS[@]}" freeport)"
            "$GUNICORN_BIN" --workers "$workers" --worker-class sync --bind "127.0.0.1:$SRV_PORT" \
                --chdir "$HERE" --log-level warning wsgi_hello:app >"$SRV_LOG" 2>&1 </dev/null &
            SRV_PID=$! ;;
        *) die "unknown server kind $kind" ;;
    esac
    sleep 0.05
    SRV_START="$(start_time "$SRV_PID")"
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        if [[ -z "$SRV_PORT" ]]; then
            SRV_PORT="$(sed -n 's|.*Listening at: http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$SRV_LOG" | head -n 1)"
        fi
        if [[ -n "$SRV_PORT" ]]; then
            code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$SRV_PORT/hello" || true)"
            if [[ "$code" == 200 ]]; then
                ready=1
                if [[ "$kind" == async || "$kind" == sync || "$kind" == app-prefork ]]; then
                    ready="$(grep -c 'Worker [0-9]* (pid [0-9]*) ready' "$SRV_LOG" || true)"
                    [[ "$ready" -ge "$workers" ]] && ready=1 || ready=0
                fi
                [[ "$ready" -eq 1 ]] && break
            fi
        fi
        if ! kill -0 "$SRV_PID" 2>/dev/null; then
            cat "$SRV_LOG" >&2
            die "$kind exited before it was ready (its log is above)"
        fi
        sleep 0.1
    done
    [[ "$code" == 200 ]] || { cat "$SRV_LOG" >&2; die "$kind did not answer within ${READY_TIMEOUT}s (log above)"; }
    "${TOOLS[@]}" tree "$SRV_PID" >"$SRV_TREE"
}

# ---------------------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------------------
# to_ms VALUE UNIT
to_ms() { awk -v v="$1" -v u="$2" 'BEGIN { if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; printf "%.3f", v }'; }

# run_wrk OUTFILE SECONDS PATH [wrk args...]: one wrk run against the current server, bounded.
run_wrk() {
    local out="$1" secs="$2" path="$3" rc=0
    shift 3
    # bash's `time` gives wrk's own CPU (user and system seconds): a client near 100% of its core is the bottleneck.
    (
        TIMEFORMAT='%U %S'
        time timeout --kill-after=5 "$((secs + 20))" wrk -t1 -c"$CONNS" -d"${secs}s" --timeout 5s --latency "$@" \
            "http://127.0.0.1:$SRV_PORT$path" >"$out" 2>&1
    ) 2>"$out.cpu" &
    wait $! || rc=$?
    # The run's own length (a busy run is longer than --duration), for wrk's CPU in % of its core.
    echo "$secs" >>"$out.cpu"
    [[ $rc -eq 0 ]] || log "warning: wrk exited with $rc (124: it hit its time cap)"
}

# wrk_scenario OUTFILE SECONDS SCENARIO: the scenario's wrk run (path, clients, headers, body).
wrk_scenario() {
    local out="$1" secs="$2" scenario="$3" kb
    case "$scenario" in
        close)     run_wrk "$out" "$secs" /hello -H 'Connection: close' ;;
        paced|aspnet-paced) run_wrk "$out" "$secs" /hello -s "$HERE/paced.lua" ;;
        aspnet-*)  run_wrk "$out" "$secs" "/${scenario#aspnet-}" ;;
        static-*)  run_wrk "$out" "$secs" "/static/${scenario#static-}.bin" ;;
        # wrk opens all its connections inside the run's time: 10,000 of them on a busy machine take seconds.
        busy-*)    CONNS="${scenario#busy-}" run_wrk "$out" "$((secs < 10 ? 10 : secs))" /hello ;;
        post-*)    kb="${scenario#post-}"; BODY_BYTES="$(( ${kb%k} * 1024 ))" run_wrk "$out" "$secs" /echo -s "$HERE/post.lua" ;;
        *)         run_wrk "$out" "$secs" /hello ;;
    esac
}

# measure SCENARIO LABEL ROUND: the measured run; appends one line to $RESULTS.
measure() {
    local scenario="$1" label="$2" round="$3" out rps p50 p99 sock non2xx errors rss total kids ksum cpu0 cpu1 mcpu0 mcpu1 reqs user sys secs
    out="$WORK/wrk-$scenario-${label// /_}-$round.txt"
    cpu0="$("${TOOLS[@]}" cpu "$SRV_PID")"
    mcpu0="$("${TOOLS[@]}" machinecpu)"
    wrk_scenario "$out" "$DURATION" "$scenario"
    mcpu1="$("${TOOLS[@]}" machinecpu)"
    cpu1="$("${TOOLS[@]}" cpu "$SRV_PID")"
    rss="$("${TOOLS[@]}" rss "$SRV_PID")"
    read -r total _ kids ksum _ <<<"$rss"
    rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
    p50="$(sed -n 's/^ *50% *\([0-9.]*\)\([a-z]*\) *$/\1 \2/p' "$out")"
    p99="$(sed -n 's/^ *99% *\([0-9.]*\)\([a-z]*\) *$/\1 \2/p' "$out")"
    # shellcheck disable=SC2086 # "value unit"
    [[ -n "$p50" ]] && p50="$(to_ms $p50)" || p50=-
    # shellcheck disable=SC2086
    [[ -n "$p99" ]] && p99="$(to_ms $p99)" || p99=-
    sock="$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$out" |
        awk '{ print $1 + $2 + $3 + $4 }')"
    non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out")"
    errors=$(( ${sock:-0} + ${non2xx:-0} ))
    # CPU per request: the server's whole process tree, user + system, over the run.
    reqs="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$out")"
    local cpu_req=- machine_req=-
    [[ "${reqs:-0}" -gt 0 ]] && cpu_req="$(awk -v a="$cpu0" -v b="$cpu1" -v n="$reqs" 'BEGIN { printf "%.1f", (b - a) / n }')" &&
        machine_req="$(awk -v a="$mcpu0" -v b="$mcpu1" -v n="$reqs" 'BEGIN { printf "%.1f", (b - a) / n }')"
    local client=-
    { read -r user sys && read -r secs; } <"$out.cpu" 2>/dev/null &&
        client="$(awk -v u="$user" -v s="$sys" -v d="$secs" 'BEGIN { printf "%.0f", (u + s) * 100 / d }')"
    local per=$total
    [[ "$kids" -gt 0 ]] && per=$((ksum / kids))
    echo "scenario=$scenario server=${label// /_} round=$round rps=${rps:-0} p50=$p50 p99=$p99 errors=$errors" \
        "rss_total=$total rss_worker=$per procs=$((kids + 1)) cpu_us=$cpu_req machine_us=$machine_req client_cpu=$client" >>"$RESULTS"
    log "  $scenario: ${rps:-?} req/s, p50 $p50 ms, p99 $p99 ms, errors $errors, CPU $cpu_req µs/req (machine $machine_req), wrk CPU $client%, RSS total $((total / 1024)) MB"
}

# ---------------------------------------------------------------------------------------------------------
# Install and build
# ---------------------------------------------------------------------------------------------------------
# shellcheck source=scripts/lib/apt.sh
source "$ROOT/scripts/lib/apt.sh"

command -v timeout >/dev/null || die "'timeout' (coreutils) is needed"
command -v python3 >/dev/null || die "python3 is needed (for scripts/bench/tools.py)"
command -v curl >/dev/null || apt_install curl || die "curl is needed"
command -v wrk >/dev/null || apt_install wrk || die "wrk is needed (apt-get install wrk)"
{ ! wants core && ! wants static && ! wants busy && ! wants hold && ! wants tls; } || command -v nginx >/dev/null || apt_install nginx-light || apt_install nginx ||
    die "nginx is needed (apt-get install nginx-light)"
GUNICORN_BIN=''
if [[ $GUNICORN -eq 1 ]] && wants core; then
    command -v gunicorn >/dev/null || apt_install gunicorn || apt_install python3-gunicorn || true
    # Debian's gunicorn runs on Debian's python3, whatever python3 is first on PATH.
    for g in /usr/bin/gunicorn "$(command -v gunicorn || true)"; do
        [[ -n "$g" && -x "$g" ]] && { GUNICORN_BIN="$g"; break; }
    done
    [[ -n "$GUNICORN_BIN" ]] || log "gunicorn is not available: left out"
fi
command -v dotnet >/dev/null || die "the .NET SDK ('dotnet') is needed"
# NativeAOT links with a C compiler: the SDK takes `clang`, else `gcc`, from PATH. Install clang only when neither is there.
command -v clang >/dev/null || command -v gcc >/dev/null || apt_install clang ||
    die "a C compiler is needed to publish NativeAOT (apt-get install clang, or gcc)"

# Raise the open-file limit for the held connections (inherited by every server and client started here).
WANT_FILES=$(( HOLD_BIG / HOLD_BIG_WORKERS + 1000 > 65536 ? HOLD_BIG / HOLD_BIG_WORKERS + 1000 : 65536 ))
if ! ulimit -n "$WANT_FILES" 2>/dev/null; then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    log "note: could not raise 'ulimit -n' to $WANT_FILES (hard limit $(ulimit -Hn)); using $(ulimit -n)"
fi
[[ "$(ulimit -n)" == unlimited || "$(ulimit -n)" -ge $((HOLD_CONNS / 2 + 1000)) ]] ||
    log "warning: open-file limit $(ulimit -n) is low for $HOLD_CONNS connections"
[[ "$HOLD_BIG" -eq 0 || "$(ulimit -n)" == unlimited || "$(ulimit -n)" -ge $((HOLD_BIG / HOLD_BIG_WORKERS + 200)) ]] ||
    log "warning: open-file limit $(ulimit -n) cannot hold $HOLD_BIG connections on $HOLD_BIG_WORKERS workers: expect refusals"
OPEN_FILES="$(ulimit -n)"
[[ "$OPEN_FILES" == unlimited || $((OPEN_FILES - 500)) -ge "$HOLD_PER_PROC" ]] || HOLD_PER_PROC=$((OPEN_FILES - 500))

log "${PUBLISHED:+not }publishing Prefork (NativeAOT)${PUBLISHED:+: using $PUBLISHED}; building the peers"
if [[ -z "$PUBLISHED" ]]; then
    (cd "$ROOT" && timeout 900 dotnet publish -c Release src/Master -o "$WORK/prefork" -nologo -v quiet) >"$WORK/build.log" 2>&1 ||
        { tail -n 30 "$WORK/build.log" >&2; die "the Prefork publish failed (end of its log above)"; }
fi
if wants core || wants busy || wants post; then
    (cd "$ROOT" && timeout 600 dotnet build -c Release bench/Kestrel -o "$KESTREL_DIR" -nologo -v quiet) >"$WORK/build-k.log" 2>&1 ||
        { tail -n 30 "$WORK/build-k.log" >&2; die "the Kestrel build failed (end of its log above)"; }
    [[ -x "$KESTREL_DIR/Kestrel" ]] || die "the build did not produce $KESTREL_DIR/Kestrel"
fi
[[ -x "$MASTER_BIN" ]] || die "the publish did not produce $MASTER_BIN"
# The TLS scenario: its own block (scripts/bench/tls.sh), then done.
if [[ "$ONLY" == tls ]]; then
    command -v openssl >/dev/null || apt_install openssl || die "openssl is needed"
    # shellcheck source=scripts/bench/tls.sh
    source "$HERE/tls.sh"
    tls_bench
    exit 0
fi
if wants aspnet; then
    # The SDK's own template, offline (it restores nothing), with the bench's Program.cs and appsettings.json; built
    # outside the repository, so none of Prefork's build settings reach it.
    (cd "$WORK" && timeout 120 dotnet new web -o "$ASPNET_DIR" -n App --no-update-check &&
        cp "$HERE/aspnet/Program.cs" "$HERE/aspnet/appsettings.json" "$ASPNET_DIR/" &&
        timeout 600 dotnet build -c Release "$ASPNET_DIR" -o "$ASPNET_DIR/bin/bench" -nologo -v quiet) >"$WORK/build-app.log" 2>&1 ||
        { tail -n 30 "$WORK/build-app.log" >&2; die "the ASP.NET Core app's build failed (end of its log above)"; }
    ASPNET_DLL="$ASPNET_DIR/bin/bench/App.dll"
    [[ -f "$ASPNET_DLL" ]] || die "the build did not produce $ASPNET_DLL"
fi

# ---------------------------------------------------------------------------------------------------------
# Rounds: Prefork and a peer alternating; the order reversed every other round. The ASP.NET Core app's three
# configurations take their turns in the same rounds.
# ---------------------------------------------------------------------------------------------------------
SERVERS=()
if wants core; then
    # nginx with 4 workers too: 4 workers on 2 cores pay for it in the tail and per connection, and Prefork's are
    # judged against nginx's paying the same (tools.py: nginx_peer).
    SERVERS=("async 2" "kestrel 1" "async 4" "nginx 2" "nginx 4" "sync 2")
    [[ -n "$GUNICORN_BIN" ]] && SERVERS+=("gunicorn 4")
    SERVERS+=("sync 4")
fi
wants aspnet && SERVERS+=("app-prefork 2" "app-kestrel 1" "app-prefork 4")

label_of() {
    case "$1" in
        async|sync) echo "Prefork $1 ${2}w" ;;
        kestrel|app-kestrel) echo "Kestrel" ;;
        app-prefork) echo "Prefork app ${2}w" ;;
        nginx)      echo "nginx ${2}w" ;;
        gunicorn)   echo "gunicorn sync ${2}w" ;;
    esac
}

# idle_rss: "master_kb largest_child_kb" of the current server.
idle_rss() { "${TOOLS[@]}" rss "$SRV_PID" | awk '{ print $2, $5 }'; }

for ((round = 1; round <= ROUNDS && ${#SERVERS[@]} > 0; round++)); do
    order=("${SERVERS[@]}")
    if ((round % 2 == 0)); then
        order=()
        for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[$i]}"); done
    fi
    for entry in "${order[@]}"; do
        read -r kind workers <<<"$entry"
        label="$(label_of "$kind" "$workers")"
        log "round $round/$ROUNDS: $label"
        start_server "$kind" "$workers"
        idle0=''
        if [[ $round -eq 1 && ( "$kind" == async || "$kind" == sync || "$kind" == app-* ) ]]; then
            sleep 1
            idle0="$(idle_rss)"
        fi
        if [[ "$kind" == app-* ]]; then
            # The same unmeasured warm-up for each, as long as a measured run: the app is JIT-compiled, in every
            # worker, and tiered compilation replaces its hot code only after it has run a while.
            run_wrk "$WORK/warmup.txt" "$DURATION" /hello
            run_wrk "$WORK/warmup.txt" "$DURATION" /json
            measure aspnet-hello "$label" "$round"
            measure aspnet-json "$label" "$round"
            measure aspnet-paced "$label" "$round"
        else
            # Unmeasured warm-up (JIT, lazy init), same for every server.
            run_wrk "$WORK/warmup.txt" 1 /hello
            measure keepalive "$label" "$round"
            measure paced "$label" "$round"
            measure close "$label" "$round"
        fi
        if [[ -n "$idle0" ]]; then
            sleep 1
            read -r m0 w0 <<<"$idle0"
            read -r m1 w1 <<<"$(idle_rss)"
            # The app's figures apart: its processes carry the .NET runtime and ASP.NET Core, not the 20 MB worker target.
            idle="idle"
            [[ "$kind" == app-* ]] && idle="appidle"
            echo "$idle.${label// /_}=m0=$m0 w0=$w0 m1=$m1 w1=$w1" >>"$EXTRAS"
        fi
        stop_server
    done
done

# Static files, many busy connections, POST bodies: each in rounds of its own.
# shellcheck source=scripts/bench/scenarios.sh
source "$HERE/scenarios.sh"
wants static && static_rounds
wants busy && busy_rounds
wants post && post_rounds

# hold_extra KEY KIND CONNS WORKERS: CONNS idle keep-alive connections on WORKERS workers of KIND (async or nginx), held for
# --hold-wait seconds, then each asked again; one client process per HOLD_PER_PROC connections (its own
# open-file limit, its own 127.0.0.x source address). Appends "KEY=..." to the extras.
hold_extra() {
    local key="$1" kind="$2" conns="$3" workers="$4" procs hold
    procs=$(((conns + HOLD_PER_PROC - 1) / HOLD_PER_PROC))
    log "$conns idle keep-alive connections ($kind, $workers workers, $procs client process(es))"
    if [[ "$kind" == nginx ]]; then
        NGINX_CONNS=$((conns + 100)) NGINX_KEEPALIVE=$HOLD_KEEPALIVE start_server nginx "$workers"
    else
        start_server async "$workers" --keep-alive "$HOLD_KEEPALIVE" --worker-connections $((conns + 100))
    fi
    timeout 900 "${TOOLS[@]}" hold --port "$SRV_PORT" --master "$SRV_PID" --conns "$conns" --wait "$HOLD_WAIT" \
        --procs "$procs" >"$WORK/$key.txt" 2>&1 &
    wait $! || log "warning: the hold test exited with $?"
    hold="$(sed -n 's/^HOLD //p' "$WORK/$key.txt")"
    if [[ -n "$hold" ]]; then
        log "  $hold"
        echo "$key=$hold" >>"$EXTRAS"
    else
        tail -n 5 "$WORK/$key.txt" >&2
    fi
    stop_server
}

# ---------------------------------------------------------------------------------------------------------
# Extras
# ---------------------------------------------------------------------------------------------------------
if wants core; then
    log "kill -9 a worker, $KILL_TRIALS times (Prefork async, 2 workers)"
    start_server async 2
    run_wrk "$WORK/warmup.txt" 1 /hello
    timeout 120 "${TOOLS[@]}" killtest --port "$SRV_PORT" --master "$SRV_PID" --log "$SRV_LOG" \
        --trials "$KILL_TRIALS" --bound 5 >"$WORK/kill.txt" 2>&1 &
    wait $! || log "warning: the kill test exited with $?"
    grep '^KILL ' "$WORK/kill.txt" | sed 's/^/    /' >&2 || true
    kill_sum="$(sed -n 's/^KILLSUM //p' "$WORK/kill.txt")"
    [[ -n "$kill_sum" ]] && { echo "kill=$kill_sum" >>"$EXTRAS"; echo "kill.workers=2" >>"$EXTRAS"; }
    stop_server

    log "spread over workers (Prefork async, $SPREAD_WORKERS workers, ${DURATION}s keep-alive on /worker)"
    start_server async "$SPREAD_WORKERS"
    run_wrk "$WORK/warmup.txt" 1 /hello
    run_wrk "$WORK/spread.txt" "$DURATION" /worker -s "$HERE/pids.lua"
    spread="$("${TOOLS[@]}" spread "$WORK/spread.txt" "$SPREAD_WORKERS")"
    log "  per worker: $(cut -d' ' -f5 <<<"$spread"), max/min $(cut -d' ' -f4 <<<"$spread")"
    echo "spread=$spread" >>"$EXTRAS"
    echo "spread.workers=$SPREAD_WORKERS" >>"$EXTRAS"
    stop_server
fi
if wants hold; then
    hold_extra hold async "$HOLD_CONNS" 2
    hold_extra hold.nginx nginx "$HOLD_CONNS" 2
    if [[ "$HOLD_BIG" -gt 0 ]]; then
        hold_extra holdbig async "$HOLD_BIG" "$HOLD_BIG_WORKERS"
        hold_extra holdbig.nginx nginx "$HOLD_BIG" "$HOLD_BIG_WORKERS"
    fi
fi

# ---------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------
{
    echo "loadavg=$LOADAVG"
    echo "loadavg.end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "elapsed=$((SECONDS - START_SECONDS))"
} >>"$EXTRAS"
echo
"${TOOLS[@]}" report --results "$RESULTS" --extras "$EXTRAS" --rounds "$ROUNDS" --duration "$DURATION" \
    --command "$COMMAND" | tee "$WORK/report.md"
if [[ -n "$OUT" ]]; then cp "$WORK/report.md" "$OUT"; log "report written to $OUT"; fi
