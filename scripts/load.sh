#!/usr/bin/env bash
# load.sh: the concurrency demo. Runs the same load against 1 sync worker, N sync workers and N async workers
# (each server started here on 127.0.0.1, port 0) and prints the numbers side by side.
#
#   scripts/load.sh                      # 64 requests, 16 at a time, GET /sleep?ms=200, 4 workers
#   scripts/load.sh --requests 200 --concurrency 32 --workers 2
#   scripts/load.sh --url 'http://127.0.0.1:8888/sleep?ms=100'   # one load against a server already running
#   scripts/load.sh --driver curl        # force the curl-only driver (also: LOAD_DRIVER=curl)
#
# Load driver: hey if installed, else wrk, else curl alone (C curl processes at a time).
set -euo pipefail

REQUESTS=64
CONCURRENCY=16
LOAD_PATH='/sleep?ms=200'
WORKERS=4
URL=''
DRIVER="${LOAD_DRIVER:-auto}"
LOAD_TIMEOUT=120     # seconds: hard cap on one load (the driver is killed past it)
READY_TIMEOUT=30     # seconds: how long a server gets to report all its workers ready
STOP_TIMEOUT=15      # seconds: how long a server gets to stop after SIGTERM before SIGKILL
GRACEFUL=10          # the server's --graceful-timeout, below STOP_TIMEOUT
WARMUP=1

usage() {
    cat <<EOF
Usage: scripts/load.sh [options]

Runs the same HTTP load against three Prefork configurations it starts itself on 127.0.0.1
(a free port each time): 1 sync worker, N sync workers, N async workers. Then prints total time,
requests/s, errors and latency percentiles side by side, and how many requests each worker served.

Options:
  --requests N       requests per run (default: $REQUESTS)
  --concurrency C    requests in flight at once (default: $CONCURRENCY)
  --path PATH        path to request (default: $LOAD_PATH)
  --workers N        workers in the 2nd and 3rd configurations (default: $WORKERS)
  --url URL          do not start servers: run one load against this URL (a server already running).
                     If URL has no path, --path is appended.
  --driver NAME      auto (default), hey, wrk or curl. Also settable as LOAD_DRIVER=NAME.
  --timeout SECONDS  hard cap on each load (default: $LOAD_TIMEOUT)
  --no-warmup        skip the unmeasured warm-up (2 x workers requests) that each fresh server
                     gets first, so that .NET's just-in-time compilation does not count as latency
  -h, --help         this help

The script builds the Release binaries first if they are missing or older than the sources
(needs the dotnet SDK); PREFORK_MASTER=/path/to/Prefork.Master runs that build instead (e.g. a published
one) and builds nothing. Every server it starts is stopped on exit (SIGTERM, then SIGKILL).

A run that got fewer 200 answers than --requests, or that ran into the --timeout cap, is not a
measurement: the script says so, and exits 1 after the table.
EOF
}

die() { printf 'load.sh: %s\n' "$*" >&2; exit 1; }

need_value() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (try --help)"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --requests)    need_value "$@"; REQUESTS="$2"; shift 2 ;;
        --concurrency) need_value "$@"; CONCURRENCY="$2"; shift 2 ;;
        --path)        need_value "$@"; LOAD_PATH="$2"; shift 2 ;;
        --workers)     need_value "$@"; WORKERS="$2"; shift 2 ;;
        --url)         need_value "$@"; URL="$2"; shift 2 ;;
        --driver)      need_value "$@"; DRIVER="$2"; shift 2 ;;
        --timeout)     need_value "$@"; LOAD_TIMEOUT="$2"; shift 2 ;;
        --requests=*|--concurrency=*|--path=*|--workers=*|--url=*|--driver=*|--timeout=*)
            set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
        --no-warmup)   WARMUP=0; shift ;;
        -h|--help)     usage; exit 0 ;;
        *)             die "unknown option '$1' (try --help)" ;;
    esac
done

is_count() { [[ "$1" =~ ^[0-9]+$ && "$1" -ge 1 ]]; }
is_count "$REQUESTS"     || die "--requests must be a whole number >= 1 (got '$REQUESTS')"
is_count "$CONCURRENCY"  || die "--concurrency must be a whole number >= 1 (got '$CONCURRENCY')"
is_count "$WORKERS"      || die "--workers must be a whole number >= 1 (got '$WORKERS')"
is_count "$LOAD_TIMEOUT" || die "--timeout must be a whole number of seconds >= 1 (got '$LOAD_TIMEOUT')"
[[ "$LOAD_PATH" == /* ]] || die "--path must start with / (got '$LOAD_PATH')"
if [[ "$CONCURRENCY" -gt "$REQUESTS" ]]; then
    echo "note: --concurrency $CONCURRENCY is more than --requests $REQUESTS; using $REQUESTS"
    CONCURRENCY="$REQUESTS"
fi

# ---------------------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------------------
command -v timeout >/dev/null || die "'timeout' (coreutils) is needed"
if ! command -v curl >/dev/null; then
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "curl is missing: installing it (apt-get)..."
        apt-get update -qq && apt-get install -y -qq curl >/dev/null
    fi
    command -v curl >/dev/null || die "curl is needed (install it, e.g. 'sudo apt-get install curl')"
fi

case "$DRIVER" in
    auto)
        if command -v hey >/dev/null; then DRIVER=hey
        elif command -v wrk >/dev/null; then DRIVER=wrk
        else DRIVER=curl; fi ;;
    hey|wrk|curl) command -v "$DRIVER" >/dev/null || die "--driver $DRIVER: '$DRIVER' is not installed" ;;
    *) die "--driver must be auto, hey, wrk or curl (got '$DRIVER')" ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MASTER_BIN="${PREFORK_MASTER:-$ROOT/src/Master/bin/Release/net10.0/Prefork.Master}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prefork-load.XXXXXX")"

# ---------------------------------------------------------------------------------------------------------
# Cleanup: whatever happens, stop the server this script started (never anything else).
# ---------------------------------------------------------------------------------------------------------
MASTER_PID=''
MASTER_LOG=''

# Prints the state letter of a process (R, S, Z...), or nothing when it is gone.
proc_state() { sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$1/stat" 2>/dev/null || true; }

# The worker pids the current master reported booting, still alive and still Prefork workers.
live_workers() {
    [[ -n "$MASTER_LOG" && -f "$MASTER_LOG" ]] || return 0
    local pid
    while read -r pid; do
        if [[ -n "$(proc_state "$pid")" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'Prefork.Worker'; then
            echo "$pid"
        fi
    done < <(sed -n 's/.*Booting worker [0-9]* with pid \([0-9]*\).*/\1/p' "$MASTER_LOG")
}

# SIGTERM the master, wait (bounded) for its graceful stop, SIGKILL it if it hangs; then make sure no
# worker outlives it.
stop_server() {
    local pid="$MASTER_PID" state i
    [[ -n "$pid" ]] || return 0
    MASTER_PID=''
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        state="$(proc_state "$pid")"
        [[ -z "$state" || "$state" == Z ]] && break
        sleep 0.1
    done
    state="$(proc_state "$pid")"
    if [[ -n "$state" && "$state" != Z ]]; then
        echo "warning: master pid $pid did not stop within ${STOP_TIMEOUT}s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    # Workers exit by themselves when their master goes; do not count on it.
    for ((i = 0; i < 50; i++)); do
        [[ -z "$(live_workers)" ]] && break
        sleep 0.1
    done
    local w
    for w in $(live_workers); do
        echo "warning: worker pid $w outlived its master; killing it" >&2
        kill -KILL "$w" 2>/dev/null || true
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # The load still running, if any: curl processes, or `timeout` (which passes the signal on to hey/wrk).
    # `jobs -p` lists only this shell's own children not yet reaped, so no pid here can be a stranger's.
    local pid
    for pid in $(jobs -p); do
        [[ "$pid" == "$MASTER_PID" ]] || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $(jobs -p); do
        [[ "$pid" == "$MASTER_PID" ]] || wait "$pid" 2>/dev/null || true
    done
    stop_server
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------
# Build and start
# ---------------------------------------------------------------------------------------------------------
build_if_needed() {
    if [[ -n "${PREFORK_MASTER:-}" ]]; then
        [[ -x "$MASTER_BIN" ]] || die "PREFORK_MASTER: '$MASTER_BIN' is not an executable file"
        return 0
    fi
    if [[ -x "$MASTER_BIN" && -x "$(dirname "$MASTER_BIN")/Prefork.Worker" ]] &&
        [[ -z "$(find "$ROOT/src" "$ROOT/Directory.Build.props" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' \) \
                 -not -path '*/obj/*' -not -path '*/bin/*' -newer "$MASTER_BIN" -print -quit)" ]]; then
        return 0
    fi
    command -v dotnet >/dev/null || die "the .NET SDK ('dotnet') is needed to build Prefork"
    echo "Building Prefork (Release)..."
    (cd "$ROOT" && dotnet build -c Release Prefork.sln -nologo -v quiet) >"$WORK/build.log" 2>&1 ||
        { tail -n 30 "$WORK/build.log" >&2; die "the build failed (above: the end of its log)"; }
    [[ -x "$MASTER_BIN" ]] || die "the build did not produce $MASTER_BIN"
    # The build may not touch an up-to-date apphost; mark it so the next run does not rebuild.
    touch "$MASTER_BIN"
}

# start_server CLASS WORKERS: starts a master, waits until all its workers are ready, sets BASE_URL.
BASE_URL=''
start_server() {
    local class="$1" workers="$2" i ready port
    MASTER_LOG="$WORK/master-$class-$workers.log"
    "$MASTER_BIN" --bind 127.0.0.1:0 --workers "$workers" --worker-class "$class" \
        --graceful-timeout "$GRACEFUL" 2>"$MASTER_LOG" </dev/null >/dev/null &
    MASTER_PID=$!
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        ready="$(grep -c '\] Worker [0-9]* (pid [0-9]*) ready$' "$MASTER_LOG" || true)"
        [[ "$ready" -ge "$workers" ]] && break
        local state
        state="$(proc_state "$MASTER_PID")"
        if [[ -z "$state" || "$state" == Z ]]; then
            cat "$MASTER_LOG" >&2
            die "the server exited before its workers were ready (its log is above)"
        fi
        sleep 0.1
    done
    if [[ "$ready" -lt "$workers" ]]; then
        cat "$MASTER_LOG" >&2
        die "only $ready of $workers workers were ready after ${READY_TIMEOUT}s (the server log is above)"
    fi
    port="$(sed -n 's|.*Listening at: http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$MASTER_LOG" | head -n 1)"
    [[ -n "$port" ]] || { cat "$MASTER_LOG" >&2; die "could not find the port in the server log"; }
    BASE_URL="http://127.0.0.1:$port"
    echo "  server: master pid $MASTER_PID, $workers $class worker(s), $BASE_URL"
}

# ---------------------------------------------------------------------------------------------------------
# Load drivers. Each writes into directory $2:
#   lat     one latency in ms per request that got an HTTP response
#   summary "ok=N errors=N seconds=S"
#   pids    "pid count" lines, when the driver sees response bodies
# ---------------------------------------------------------------------------------------------------------
now_ns() { date +%s%N; }

# Each load runs in the background and the script waits for it: a trapped signal interrupts `wait` at
# once, and cleanup stops the load by its pids (LOAD_PIDS) and reaps it.
LOAD_PIDS=()
wait_load() {
    LOAD_PIDS=("$@")
    local rc=0 pid
    for pid in "$@"; do wait "$pid" || rc=$?; done
    LOAD_PIDS=()
    return "$rc"
}
wait_loads() {
    local pid
    for pid in "${LOAD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    LOAD_PIDS=()
}
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# curl_parallel COUNT PARALLEL URL DIR: COUNT requests, PARALLEL at a time. Bodies go to DIR/body.I, and
# one line "http_code time_total ..." per request to DIR/raw (http_code 000 = no response).
# curl >= 7.68 does it in one process (--parallel). Older curl: one curl process per request, each a child
# of this shell, so that an interrupted load can be stopped and reaped here, leaving no zombie.
CURL_PARALLEL=''
curl --help all 2>/dev/null | grep -q -- '--parallel-immediate' && CURL_PARALLEL=1
curl_parallel() {
    local count="$1" parallel="$2" url="$3" out="$4" i running=0 deadline=$((SECONDS + LOAD_TIMEOUT)) rc=0
    : >"$out/raw"
    if [[ -n "$CURL_PARALLEL" ]]; then
        for ((i = 1; i <= count; i++)); do printf 'url = "%s"\noutput = "%s/body.%d"\n' "$url" "$out" "$i"; done >"$out/curl.cfg"
        timeout --kill-after=5 "$LOAD_TIMEOUT" curl -s --no-progress-meter -Z --parallel-max "$parallel" --parallel-immediate \
            --max-time "$LOAD_TIMEOUT" -w '%{http_code} %{time_total} %{filename_effective}\n' -K "$out/curl.cfg" \
            >"$out/raw" 2>/dev/null &
        wait_load $! || rc=$?
        # curl exits non-zero when some transfer failed: counted as errors from DIR/raw, not fatal.
        [[ $rc -ne 124 ]] || echo "  warning: the load hit the ${LOAD_TIMEOUT}s cap"
        return 0
    fi
    for ((i = 1; i <= count; i++)); do
        if [[ $running -ge $parallel ]]; then
            wait -n 2>/dev/null || true
            running=$((running - 1))
        fi
        if [[ $SECONDS -ge $deadline ]]; then
            echo "  warning: the load hit the ${LOAD_TIMEOUT}s cap; $((count - i + 1)) request(s) not sent"
            break
        fi
        curl -s -o "$out/body.$i" --max-time "$LOAD_TIMEOUT" -w "%{http_code} %{time_total} $i\n" "$url" >>"$out/raw" 2>/dev/null &
        LOAD_PIDS+=("$!")
        running=$((running + 1))
    done
    wait_loads
}

# Counts "(pid P)" in the bodies DIR/body.*: prints "pid count" lines.
pids_from_bodies() {
    find "$1" -maxdepth 1 -name 'body.*' -exec cat {} + 2>/dev/null |
        sed -n 's/.*(pid \([0-9]*\)).*/\1/p' | sort | uniq -c | awk '{ print $2, $1 }'
}

load_curl() {
    local url="$1" out="$2" start
    start="$(now_ns)"
    curl_parallel "$REQUESTS" "$CONCURRENCY" "$url" "$out"
    local seconds ok
    seconds="$(seconds_since "$start")"
    awk '$1 != "000" { printf "%.3f\n", $2 * 1000 }' "$out/raw" >"$out/lat"
    ok="$(awk '$1 == "200"' "$out/raw" | wc -l)"
    echo "ok=$ok errors=$((REQUESTS - ok)) seconds=$seconds" >"$out/summary"
    pids_from_bodies "$out" >"$out/pids"
}

load_hey() {
    local url="$1" out="$2" start rc=0 each=$((REQUESTS / CONCURRENCY)) more=$((REQUESTS % CONCURRENCY))
    start="$(now_ns)"
    # hey gives each of its -c clients -n/c requests and drops the remainder (-n 200 -c 32 sends 192): the
    # remainder's clients run in a second hey beside the first, one request more each, C clients in all.
    timeout --kill-after=5 "$LOAD_TIMEOUT" hey -n "$((each * (CONCURRENCY - more)))" -c "$((CONCURRENCY - more))" \
        -t "$LOAD_TIMEOUT" -o csv "$url" >"$out/raw" 2>"$out/stderr" &
    local pids=($!)
    if [[ $more -gt 0 ]]; then
        timeout --kill-after=5 "$LOAD_TIMEOUT" hey -n "$(((each + 1) * more))" -c "$more" -t "$LOAD_TIMEOUT" -o csv "$url" \
            >"$out/raw.more" 2>>"$out/stderr" &
        pids+=($!)
    fi
    wait_load "${pids[@]}" || rc=$?
    [[ ! -f "$out/raw.more" ]] || cat "$out/raw.more" >>"$out/raw"
    [[ $rc -eq 0 ]] || echo "  warning: hey exited with $rc (124 = hit the ${LOAD_TIMEOUT}s cap)"
    local seconds ok
    seconds="$(seconds_since "$start")"
    # CSV: response-time(s),...,status-code,offset. Failed connections have no row.
    awk -F, 'NR > 1 && $7 ~ /^[0-9]+$/ { printf "%.3f\n", $1 * 1000 }' "$out/raw" >"$out/lat"
    ok="$(awk -F, 'NR > 1 && $7 == "200"' "$out/raw" | wc -l)"
    echo "ok=$ok errors=$((REQUESTS - ok)) seconds=$seconds" >"$out/summary"
}

# wrk runs for a duration, not a count: this script counts responses in its one load thread and, at the
# Nth, stops that thread and wakes wrk's main thread, which sleeps for the duration, with SIGINT (wrk's own
# way to end early). The signal goes to the main thread by its thread id (tgkill). A `kill -INT` to the
# process, as this script once sent, lets the kernel hand the signal to any thread that does not block it:
# about one run in 30 the load thread took it, its handler only set wrk's stop flag, and the main thread
# slept out the whole --timeout cap (a run of 64 requests "took" 120 s). A signal that came before the main
# thread had started its sleep would do the same (never seen: the Nth response takes N round trips); such
# a run ends at the cap, and check_run says so. Requests still in flight at the Nth response are dropped by
# wrk; the server may still answer them.
load_wrk() {
    local url="$1" out="$2" start rc=0
    cat >"$out/count.lua" <<'LUA'
local ffi = require("ffi") -- wrk's Lua is LuaJIT
ffi.cdef [[ int getpid(void); int tgkill(int tgid, int tid, int sig); ]]
local SIGINT = 2
local target = tonumber(os.getenv("LOAD_REQUESTS"))
local seen, errors, pids = 0, 0, {}
function response(status, headers, body)
  seen = seen + 1
  if status ~= 200 then errors = errors + 1 end
  local pid = body and body:match("%(pid (%d+)%)")
  if pid then pids[pid] = (pids[pid] or 0) + 1 end
  if seen == target then
    local parts = {}
    for p, n in pairs(pids) do parts[#parts + 1] = p .. ":" .. n end
    pid_counts, status_errors = table.concat(parts, ","), errors
    wrk.thread:stop()
    -- The main thread's id is the process id.
    local main = ffi.C.getpid()
    ffi.C.tgkill(main, main, SIGINT)
  end
end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOAD requests=%d socket_errors=%d duration_us=%d\n", summary.requests,
    e.connect + e.read + e.write + e.timeout, summary.duration))
  for _, t in ipairs(threads) do
    io.write("LOAD status_errors=", tostring(t:get("status_errors") or 0), "\n")
    for p, n in string.gmatch(t:get("pid_counts") or "", "(%d+):(%d+)") do io.write("PID ", p, " ", n, "\n") end
  end
end
LUA
    start="$(now_ns)"
    LOAD_REQUESTS="$REQUESTS" timeout --kill-after=5 "$((LOAD_TIMEOUT + 5))" \
        wrk -t 1 -c "$CONCURRENCY" -d "${LOAD_TIMEOUT}s" --timeout "${LOAD_TIMEOUT}s" --latency \
        -s "$out/count.lua" "$url" >"$out/raw" 2>&1 &
    wait_load $! || rc=$?
    [[ $rc -eq 0 ]] || echo "  warning: wrk exited with $rc (124 = hit the cap)"
    local seconds responses socket_errors status_errors ok
    seconds="$(seconds_since "$start")"
    responses="$(sed -n 's/^LOAD requests=\([0-9]*\).*/\1/p' "$out/raw")"
    socket_errors="$(sed -n 's/^LOAD .*socket_errors=\([0-9]*\).*/\1/p' "$out/raw")"
    status_errors="$(sed -n 's/^LOAD status_errors=\([0-9]*\).*/\1/p' "$out/raw")"
    ok=$(( ${responses:-0} - ${status_errors:-0} ))
    [[ $ok -le $REQUESTS ]] || ok=$REQUESTS
    # wrk keeps only a histogram: rebuild p50/p90/p99 from its --latency distribution lines.
    sed -n 's/^ *\(50\|75\|90\|99\)% *\([0-9.]*\)\([a-z]*\) *$/\1 \2 \3/p' "$out/raw" |
        awk '{ v = $2; if ($3 == "us") v /= 1000; else if ($3 == "s") v *= 1000; else if ($3 == "m") v *= 60000; print $1, v }' \
        >"$out/wrk-pct"
    echo "ok=$ok errors=$(( REQUESTS - ok + ${socket_errors:-0} )) seconds=$seconds" >"$out/summary"
    awk '$1 == "PID" { print $2, $3 }' "$out/raw" | sort -n >"$out/pids"
}

# A fresh .NET worker compiles its code on first use: the first requests are slow. Before measuring, send
# 2 x WORKERS requests, WORKERS at a time (a sync worker holds one, so each tends to get its share).
# Writes "pid count" lines to DIR/warmup, so log-based counts can leave them out.
warm_up() {
    local url="$1" workers="$2" out="$3/warmup.d"
    mkdir -p "$out"
    curl_parallel "$((2 * workers))" "$workers" "$url" "$out"
    pids_from_bodies "$out" >"$3/warmup"
    echo "  warm-up: $(awk '{ s += $2 } END { print s + 0 }' "$3/warmup") request(s) sent first, not measured"
}

run_load() {
    local url="$1" out="$2"
    mkdir -p "$out"
    echo "  load:   $REQUESTS x GET $url, $CONCURRENCY at a time, driver $DRIVER (cap ${LOAD_TIMEOUT}s)"
    "load_$DRIVER" "$url" "$out"
    check_run "$out"
}

# A run is a measurement only if all the requests asked for were answered (200), within the cap: a short
# run's time or a capped run's time is not the load's, and its row would lie. Such a run gets a line in
# DIR/flag; the script prints its table anyway, then says which runs to distrust and exits 1.
FLAGGED=0
check_run() {
    local dir="$1" ok seconds
    ok="$(field "$dir" ok)" seconds="$(field "$dir" seconds)"
    if [[ "${ok:-0}" -lt "$REQUESTS" ]]; then
        echo "only ${ok:-0} of $REQUESTS requests were answered with 200" >>"$dir/flag"
    fi
    if awk -v s="${seconds:-0}" -v cap="$LOAD_TIMEOUT" 'BEGIN { exit !(s >= cap) }'; then
        echo "it ran into the ${LOAD_TIMEOUT}s cap: ${seconds} s is the cap's time, not the load's" >>"$dir/flag"
    fi
    if [[ -s "$dir/flag" ]]; then
        FLAGGED=1
        sed 's/^/  NOT A MEASUREMENT: /' "$dir/flag"
    fi
}

# After the table: the runs that are not measurements, and exit 1 if there is one.
report_flags() { # report_flags LABEL DIR [LABEL DIR ...]
    [[ $FLAGGED -eq 1 ]] || return 0
    echo
    while [[ $# -gt 0 ]]; do
        [[ ! -s "$2/flag" ]] || sed "s/^/load.sh: '$1' is not a measurement: /" "$2/flag" >&2
        shift 2
    done
    exit 1
}

# Per-worker counts from the workers' own words, for drivers that do not see bodies. Needs the server
# stopped gracefully first: "Worker exiting (pid M): served K requests".
pids_from_log() {
    local log="$1" out="$2"
    touch "$out/warmup"
    sed -n 's/.*Worker exiting (pid \([0-9]*\)): served \([0-9]*\) requests.*/\1 \2/p' "$log" |
        awk 'NR == FNR { warm[$1] = $2; next } { print $1, $2 - warm[$1] }' "$out/warmup" - | sort -n >"$out/pids"
    echo log >"$out/pids-source"
}

# ---------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------
percentile() { # percentile FILE P  (nearest rank, ms)
    local file="$1" p="$2" dir
    dir="$(dirname "$file")"
    if [[ -f "$dir/wrk-pct" ]]; then
        awk -v p="$p" '$1 == p { printf "%.0f", $2; found = 1 } END { if (!found) printf "-" }' "$dir/wrk-pct"
        return
    fi
    sort -n "$file" | awk -v p="$p" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { printf "-"; exit }
            i = int(p * NR / 100); if (i < p * NR / 100) i++; if (i < 1) i = 1
            printf "%.0f", v[i]
        }'
}

field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1/summary"; }

print_table() { # print_table LABEL DIR [LABEL DIR ...]
    local base_seconds='' label dir seconds ok errors rps speedup
    printf '\n%-16s %9s %9s %7s %8s %8s %8s %9s\n' configuration "time (s)" "req/s" errors "p50 ms" "p90 ms" "p99 ms" speed-up
    printf '%-16s %9s %9s %7s %8s %8s %8s %9s\n' ---------------- --------- --------- ------- -------- -------- -------- ---------
    while [[ $# -gt 0 ]]; do
        label="$1" dir="$2"
        shift 2
        seconds="$(field "$dir" seconds)" ok="$(field "$dir" ok)" errors="$(field "$dir" errors)"
        rps="$(awk -v n="$ok" -v s="$seconds" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')"
        [[ -n "$base_seconds" ]] || base_seconds="$seconds"
        speedup="$(awk -v a="$base_seconds" -v b="$seconds" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')"
        printf '%-16s %9s %9s %7s %8s %8s %8s %9s\n' "$label" "$seconds" "$rps" "$errors" \
            "$(percentile "$dir/lat" 50)" "$(percentile "$dir/lat" 90)" "$(percentile "$dir/lat" 99)" "$speedup"
    done
}

print_workers() { # print_workers LABEL DIR
    local label="$1" dir="$2" source="response bodies" total
    [[ -f "$dir/pids-source" ]] && source="the workers' exit log, less the warm-up"
    printf '\n%s: requests served per worker (from %s)\n' "$label" "$source"
    if [[ ! -s "$dir/pids" ]]; then
        echo "  (not available: the $DRIVER driver does not show response bodies, and this server's log is not ours)"
        return
    fi
    printf '  %-10s %8s\n' "worker pid" requests
    awk '{ printf "  %-10s %8s\n", $1, $2 }' "$dir/pids"
    total="$(awk '{ s += $2 } END { print s + 0 }' "$dir/pids")"
    printf '  %-10s %8s\n' total "$total"
    local ok
    ok="$(field "$dir" ok)"
    if [[ -f "$dir/pids-source" && "$total" -lt "${ok:-0}" ]]; then
        echo "  ($((ok - total)) of the $ok answers are not here: only a worker that exits gracefully logs its count)"
    fi
}

# ---------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------
if [[ -n "$URL" ]]; then
    [[ "$URL" =~ ^https?://[^/]+/?$ ]] && URL="${URL%/}$LOAD_PATH"
    echo "== Load against $URL (server not started by this script)"
    run_load "$URL" "$WORK/url"
    print_table "that server" "$WORK/url"
    print_workers "that server" "$WORK/url"
    report_flags "that server" "$WORK/url"
    exit 0
fi

build_if_needed

CONFIGS=("sync 1" "sync $WORKERS" "async $WORKERS")
LABELS=()
ARGS=()
n=0
for config in "${CONFIGS[@]}"; do
    read -r class count <<<"$config"
    n=$((n + 1))
    label="$count $class"
    if [[ "$count" -eq 1 ]]; then label="$label worker"; else label="$label workers"; fi
    dir="$WORK/run$n"
    echo
    echo "== Run $n of ${#CONFIGS[@]}: $label"
    start_server "$class" "$count"
    [[ $WARMUP -eq 0 ]] || warm_up "$BASE_URL$LOAD_PATH" "$count" "$dir"
    run_load "$BASE_URL$LOAD_PATH" "$dir"
    log="$MASTER_LOG"
    stop_server
    [[ -s "$dir/pids" ]] || pids_from_log "$log" "$dir"
    echo "  done:   $(field "$dir" ok) ok, $(field "$dir" errors) errors in $(field "$dir" seconds) s; server stopped"
    LABELS+=("$label")
    ARGS+=("$label" "$dir")
done

echo
echo "== Results: $REQUESTS requests of GET $LOAD_PATH, $CONCURRENCY at a time (driver: $DRIVER)"
print_table "${ARGS[@]}"
for ((i = 0; i < ${#LABELS[@]}; i++)); do
    print_workers "${LABELS[$i]}" "$WORK/run$((i + 1))"
done

s1="$(field "$WORK/run1" seconds)" s2="$(field "$WORK/run2" seconds)" s3="$(field "$WORK/run3" seconds)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
sync_ideal=$(( WORKERS < CONCURRENCY ? WORKERS : CONCURRENCY ))
expected=''
if [[ "$LOAD_PATH" =~ ^/sleep\?ms=([0-9]+)$ ]]; then
    expected="$(awk -v n="$REQUESTS" -v ms="${BASH_REMATCH[1]}" 'BEGIN { printf "%d x %d ms = %.1f s, ", n, ms, n * ms / 1000 }')"
fi
echo
echo "What the numbers show: a sync worker holds one connection at a time, so 1 sync worker answers"
echo "the $REQUESTS requests one after another (${expected}measured ${s1} s); the others wait in the queue,"
echo "which is why even p50 latency is high. $WORKERS sync workers answer $WORKERS at a time: $(ratio "$s1" "$s2")x faster here"
echo "(ideally ${sync_ideal}x). Async workers overlap the waits: while one request sleeps, the same worker serves"
echo "others, so all $CONCURRENCY requests in flight proceed together: $(ratio "$s1" "$s3")x faster than 1 sync worker"
echo "(ideally ${CONCURRENCY}x). More processes help a sync server; for waiting, not computing, async helps more."
report_flags "${ARGS[@]}"
