#!/usr/bin/env bash
# chaos.sh: the experiments of issue 11, run as a hostile operator and hostile clients would, each against a fresh
# Prefork on 127.0.0.1 (port 0). Prints one table and exits 1 when a row that must be 0 is not.
#
#   scripts/chaos.sh                      # the published NativeAOT build (dotnet publish), about 3 minutes + build
#   scripts/chaos.sh --quick              # shorter runs: under a minute + build
#   scripts/chaos.sh --jit --only hup,flags
#   scripts/chaos.sh --aspnet             # the HUP, TTIN/TTOU and --max-requests rows with an ASP.NET Core app as --app
#
# Load is wrk -t1 -c32 keep-alive (wrk counts errors by kind: connect, read, write, timeout; and non-2xx); the
# one-shot and hostile clients are scripts/chaos/clients.py. Every experiment is bounded in time and count, talks
# only to 127.0.0.1, and stops only what it started, by pid (the master, and the workers it logged or spawned).
set -euo pipefail

EXPERIMENTS=(hup ttin-ttou max-requests sync-busy kill-worker kill-master term-queue second-server flags slow-heads
    full-workers download-reset)
# With --aspnet: the experiments where the app's own boot and stop take part (an ASP.NET Core worker boots in a
# second or more, and its host runs ApplicationStopping before each drain).
ASPNET_EXPERIMENTS=(hup ttin-ttou max-requests)
ASPNET=0
APP_ARGS=()       # the master's --app, when the workers run an app; start_server passes them
APP_LABEL=''      # added to the rows' names
JIT=0
QUICK=0
ONLY=''
BIN=''
INSTALL=1
KEEP=0
READY_TIMEOUT=30     # seconds a server gets to have all its workers ready
STOP_TIMEOUT=40      # seconds a server gets to stop after SIGTERM (more than --graceful-timeout) before SIGKILL
CMDLINE_BOUND=5      # seconds a refused command line gets to exit
ORPHAN_BOUND=8       # seconds after the master's SIGKILL by which its workers must be gone (README: within 2 s)
WRK=(wrk -t1 -c32 --timeout 5s)

usage() {
    cat <<EOF
Usage: scripts/chaos.sh [options]

Runs issue 11's experiments against a Prefork it starts (2 workers, 127.0.0.1, port 0) and prints one table:
experiment, requests, errors, signals sent, errors per signal, must be 0?, PASS/FAIL.
Exit code 1 when a must-be-0 row is not 0; 2 when the script itself cannot run (bad option, build failed).

Options:
  --jit          use the JIT build (dotnet build -c Release: src/Master/bin/Release/net10.0/Prefork.Master)
                 instead of publishing the NativeAOT one
  --bin PATH     use this Prefork.Master as it is (no build), e.g. one published before
  --quick        shorter runs (under a minute after the build)
  --aspnet       run ${ASPNET_EXPERIMENTS[*]} with an ASP.NET Core app as the workers' --app: the SDK's
                 web template (built here, offline) with GET /hello and GET /sleep?ms=N; a HUP every 3 s
                 and a TTIN/TTOU every 1 s, as the app boots in a second or more
  --only NAMES   only these experiments, comma-separated:
                 ${EXPERIMENTS[*]}
  --keep         keep the work directory (server logs, wrk outputs) and print its path
  --no-install   do not apt-get anything (wrk, and clang when no C compiler is there for NativeAOT)
  -h, --help     this help
EOF
}

die() { printf 'chaos.sh: %s\n' "$*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --jit)        JIT=1; shift ;;
        --quick)      QUICK=1; shift ;;
        --aspnet)     ASPNET=1; shift ;;
        --only)       [[ $# -ge 2 && -n "$2" ]] || die "--only needs a value (try --help)"; ONLY="$2"; shift 2 ;;
        --bin)        [[ $# -ge 2 && -n "$2" ]] || die "--bin needs a value (try --help)"; BIN="$2"; shift 2 ;;
        --keep)       KEEP=1; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h|--help)    usage; exit 0 ;;
        *)            die "unknown option '$1' (try --help)" ;;
    esac
done
[[ $ASPNET -eq 0 ]] || EXPERIMENTS=("${ASPNET_EXPERIMENTS[@]}")
for name in ${ONLY//,/ }; do
    [[ " ${EXPERIMENTS[*]} " == *" $name "* ]] || die "--only: no experiment '$name'$([[ $ASPNET -eq 1 ]] && echo ' with --aspnet') (try --help)"
done

# Durations: full, or --quick.
# PROBE_SECONDS: how long a probe that must be served within 1 s is waited for.
if [[ $QUICK -eq 1 ]]; then
    HUP_SECONDS=4; SCALE_SECONDS=3; MAXREQ_SECONDS=3; KILLS=2; MASTER_KILL_AT=1; PROBE_SECONDS=2; SYNC_BUSY_SECONDS=8
else
    HUP_SECONDS=20; SCALE_SECONDS=10; MAXREQ_SECONDS=10; KILLS=4; MASTER_KILL_AT=2; PROBE_SECONDS=3; SYNC_BUSY_SECONDS=15
fi
# Seconds between signals: a new generation (or a TTIN's worker) should get to boot before the next one.
HUP_EVERY=1; SCALE_EVERY=0.5
[[ $ASPNET -eq 0 ]] || { HUP_EVERY=3; SCALE_EVERY=1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The interpreter itself, not a version-manager shim (a pyenv shim costs much per call on a busy machine).
PYTHON="$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)"
[[ -x "$PYTHON" ]] || PYTHON=python3
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prefork-chaos.XXXXXX")"
RESULTS="$WORK/results"
: >"$RESULTS"
START_SECONDS=$SECONDS

log() { printf '[chaos %4ds] %s\n' "$((SECONDS - START_SECONDS))" "$*" >&2; }
# -S: the standard library is all they need, and site-packages' start-up hooks cost much on a busy machine.
procs() { "$PYTHON" -S "$ROOT/scripts/chaos/procs.py" "$@"; }
clients() { "$PYTHON" -S "$ROOT/scripts/chaos/clients.py" "$@"; }
# field KEY LINE: the value of KEY=value in a line of key=value figures.
field() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# shellcheck source=scripts/chaos/harness.sh
source "$ROOT/scripts/chaos/harness.sh"

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in $(jobs -p); do [[ "$pid" == "$SRV_PID" ]] || kill -TERM "$pid" 2>/dev/null || true; done
    stop_server
    for pid in $(jobs -p); do wait "$pid" 2>/dev/null || true; done
    if [[ $KEEP -eq 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo >&2; log "interrupted"; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------
# Experiments: one function each.
# ---------------------------------------------------------------------------------------------------------
exp_hup() {
    local sent
    sent="$(signals_in "$HUP_SECONDS" "$HUP_EVERY")"
    start_server 2
    wrk_start "$HUP_SECONDS" /hello
    signal_loop "$HUP_EVERY" "$sent" HUP
    wrk_wait
    wrk_row "HUP every $HUP_EVERY s, /hello$APP_LABEL" "$sent" "$(cut_off_note)"
    stop_server
}

exp_ttin_ttou() {
    local path sent
    sent="$(signals_in "$SCALE_SECONDS" "$SCALE_EVERY")"
    for path in /hello '/sleep?ms=50'; do
        start_server 2
        wrk_start "$SCALE_SECONDS" "$path"
        signal_loop "$SCALE_EVERY" "$sent" TTIN TTOU
        wrk_wait
        wrk_row "TTIN/TTOU every $SCALE_EVERY s, $path$APP_LABEL" "$sent" "$(cut_off_note)"
        stop_server
    done
}

exp_max_requests() {
    start_server 2 --max-requests 20000 --max-requests-jitter 2000
    wrk_start "$MAXREQ_SECONDS" /hello
    wrk_wait
    wrk_row "--max-requests 20000 (+0..2000)$APP_LABEL" "$(log_count 'reached --max-requests')" \
        "signals = retirements; $(cut_off_note)"
    stop_server
}

# Sync workers inside one short request after another for over twice --timeout: a worker beats between requests,
# so none may be taken for hung (WORKER TIMEOUT) and killed with the request it was serving.
exp_sync_busy() {
    start_server 2 --worker-class sync --timeout 3
    wrk_start "$SYNC_BUSY_SECONDS" '/sleep?ms=20'
    wrk_wait
    local requests connect read write tmo non2xx killed errors
    read -r requests connect read write tmo non2xx <<<"$WRK_STATS"
    killed="$(log_count 'WORKER TIMEOUT')"
    errors=$((connect + read + write + tmo + non2xx + killed))
    row "2 sync, --timeout 3, ${SYNC_BUSY_SECONDS} s busy, /sleep?ms=20" "$requests" "$errors" 0 yes "$(zero "$errors")" \
        "errors = wrk's + WORKER TIMEOUT lines; wrk: connect $connect, read $read, write $write, timeout $tmo, non-2xx $non2xx; $killed WORKER TIMEOUT"
    stop_server
}

# kill -9 of a worker: only what it held in flight may fail, so errors are weighed against the connections the
# killed worker held (with wrk's keep-alive load, every held connection has a request in flight).
exp_kill_worker() {
    local out kills held requests connect read write tmo non2xx errors verdict
    start_server 2
    wrk_start $((KILLS * 2 + 2)) /hello
    out="$(procs killworkers --master "$SRV_PID" --port "$SRV_PORT" --log "$SRV_LOG" --kills "$KILLS" --every 2)"
    kills="$(field kills "$out")"
    held="$(field held "$out")"
    wrk_wait
    read -r requests connect read write tmo non2xx <<<"$WRK_STATS"
    errors=$((connect + read + write + tmo + non2xx))
    verdict=PASS
    [[ $errors -le $held ]] || verdict=FAIL
    row "kill -9 a worker, /hello" "$requests" "$errors" "$kills" no "$verdict" \
        "held by the killed workers: $held connection(s), $(awk -v h="$held" -v k="$kills" 'BEGIN { printf "%.1f", k ? h / k : 0 }') per kill (PASS: errors <= held); wrk: connect $connect, read $read, write $write, timeout $tmo, non-2xx $non2xx"
    stop_server
}

# kill -9 of the master: each worker sees end-of-file on its channel, must finish what it holds, then exit.
# Once nobody listens, wrk's reconnects are refused, and wrk counts those as write errors (its connect is
# non-blocking): so read, timeout and non-2xx count here, write errors are only reported.
exp_kill_master() {
    local pid killed_at requests connect read write tmo non2xx errors workers orphans
    start_server 2
    wrk_start $((MASTER_KILL_AT + 4)) /hello
    sleep "$MASTER_KILL_AT"
    pid="$SRV_PID"
    SRV_PID=''
    kill -KILL "$pid"
    killed_at=$EPOCHREALTIME
    wait "$pid" 2>/dev/null || true
    wrk_wait
    read -r requests connect read write tmo non2xx <<<"$WRK_STATS"
    errors=$((read + tmo + non2xx))
    row "kill -9 the master, /hello" "$requests" "$errors" 1 yes "$(zero "$errors")" \
        "wrk: read $read, timeout $tmo, non-2xx $non2xx (not counted: connect $connect, write $write, refused once nobody listens); $(cut_off_note)"
    workers="$(grep -c 'Booting worker' "$SRV_LOG" || true)"
    orphans="$(kill_orphans "$SRV_LOG" "$SRV_START" "$(awk -v t="$killed_at" -v now="$EPOCHREALTIME" \
        -v b="$ORPHAN_BOUND" 'BEGIN { r = b - (now - t); print (r > 0 ? r : 0) }')" | wc -l)"
    row "workers left ${ORPHAN_BOUND} s after the master's kill -9" "$workers" "$orphans" 1 yes "$(zero "$orphans")" \
        "requests = workers the master logged; errors = those still running (then killed)"
}

# TERM with clients queued behind 2 busy sync workers: the queue must be served, not reset.
exp_term_queue() {
    local spec n path out errors
    for spec in '24 /sleep?ms=250' '100 /sleep?ms=50'; do
        read -r n path <<<"$spec"
        start_server 2 --worker-class sync
        out="$(clients queue --port "$SRV_PORT" --clients "$n" --path "$path" --signal-pid "$SRV_PID" --timeout 30)"
        procs wait --pid "$SRV_PID" --bound "$STOP_TIMEOUT" >/dev/null || log "warning: the master did not exit after TERM"
        errors=$((n - $(field served "$out")))
        row "TERM, $n x $path queued, 2 sync" "$n" "$errors" 1 yes "$(zero "$errors")" \
            "served $(field served "$out"), reset $(field reset "$out"), empty $(field empty "$out"), timeout $(field timeout "$out"), other $(field other "$out"); $(cut_off_note)"
        stop_server
    done
}

# A second master on a port in use must refuse it: one line, exit 1.
exp_second_server() {
    local blog="$WORK/second.log" pid start state rc=0 lines out errors note
    start_server 2
    "$MASTER" --bind "127.0.0.1:$SRV_PORT" --workers 1 </dev/null >"$blog" 2>&1 &
    pid=$!
    start="$(procs start "$pid")"
    state="$(procs wait --pid "$pid" --log "$blog" --pattern ' ready$' --bound 10 || true)"
    if [[ "$state" == gone ]]; then
        wait "$pid" || rc=$?
        lines="$(grep -c . "$blog" || true)"
        errors=0
        [[ $rc -eq 1 && $lines -eq 1 ]] || errors=1
        note="exit $rc, $lines line(s): $(head -n 1 "$blog")"
        row "second Prefork on the same port" 0 "$errors" 0 yes "$(zero "$errors")" "$note"
    else
        out="$(clients who --port "$SRV_PORT" --master "$SRV_PID" --requests 40)"
        stop_master "$pid" "$start" "$blog"
        errors="$(field other "$out")"
        row "second Prefork on the same port" 40 "$((errors + 1))" 0 yes FAIL \
            "it started and served $errors of 40 GET /worker (errors = those + 1 for starting)"
    fi
    stop_server
}

# The value-taking flags of the README's Flags table: every name in a row whose names show a value (`--bind ADDRESS`).
value_flags() {
    # shellcheck disable=SC2016 # the backquotes are Markdown's
    grep -E '^\| `-' "$ROOT/README.md" | sed 's/^| //; s/ | .*//' | grep -E '`-[^`]* [^`]*`' | grep -oE '`-[-a-z]*' |
        tr -d '`'
}

# refusals ROW CASE...: each CASE (the arguments of one command line) must be refused with one `error:` line and
# exit 2; one row, whose note lists the others by outcome ("started", "exit 0", ...), each shown without the
# --bind and --workers every case carries.
refusals() {
    local name="$1" i bad=0 outcome shown note='' results=()
    local -A by_outcome=()
    shift
    mapfile -t results < <(printf '%s\n' "$@" | procs refused --bound "$CMDLINE_BOUND" -- "$MASTER")
    for ((i = 0; i < $#; i++)); do
        [[ "${results[i]}" =~ ^exit\ 2\ 1\ error: ]] && continue
        bad=$((bad + 1))
        outcome="$(cut -d' ' -f1,2 <<<"${results[i]}")"
        shown="${*:i+1:1}"
        shown="${shown#--bind 127.0.0.1:0 }"
        by_outcome[$outcome]+="${by_outcome[$outcome]:+, }${shown#--workers 1 }"
    done
    for outcome in "${!by_outcome[@]}"; do note+="${note:+; }$outcome: ${by_outcome[$outcome]}"; done
    row "$name" "$#" "$bad" 0 yes "$(zero "$bad")" "not refused: ${note:-none}"
}

exp_flags() {
    local flags=() flag cases=()
    mapfile -t flags < <(value_flags)
    [[ ${#flags[@]} -ge 10 ]] || die "found only ${#flags[@]} value-taking flags in README.md's Flags table"
    for flag in "${flags[@]}"; do
        if [[ "$flag" == -w || "$flag" == --workers ]]; then
            cases+=("--bind 127.0.0.1:0 $flag")
        else
            cases+=("--bind 127.0.0.1:0 --workers 1 $flag")
        fi
    done
    refusals "value-taking flag without its value, at the end" "${cases[@]}"
    refusals "stray positional word" 'stray --bind 127.0.0.1:0 --workers 1' '--bind 127.0.0.1:0 --workers 1 stray'
}

# Half request heads must not hold sync workers: a normal client is served within 1 s.
exp_slow_heads() {
    local out errors
    start_server 2 --worker-class sync
    out="$(clients slowheads --port "$SRV_PORT" --clients 20 --probe-timeout "$PROBE_SECONDS")"
    errors=0
    [[ "$(field probe "$out")" == served && "$(field probe_ms "$out")" -le 1000 ]] || errors=1
    row "20 half heads, 2 sync: a new /hello" 1 "$errors" 0 yes "$(zero "$errors")" \
        "probe $(field probe "$out") after $(field probe_ms "$out") ms (waited up to ${PROBE_SECONDS} s; must be <= 1000)"
    stop_server
}

# Workers full of idle keep-alive connections must still admit a new client within 1 s.
exp_full_workers() {
    local out errors
    start_server 2 --worker-connections 50 --keep-alive 60
    out="$(clients fill --port "$SRV_PORT" --conns 100 --probe-timeout "$PROBE_SECONDS")"
    errors=0
    [[ "$(field probe "$out")" == served && "$(field probe_ms "$out")" -le 1000 ]] || errors=1
    row "2 async x 50 conns full of idle: a new /hello" 1 "$errors" 0 yes "$(zero "$errors")" \
        "$(field idle "$out") idle keep-alive held; probe $(field probe "$out") after $(field probe_ms "$out") ms (waited up to ${PROBE_SECONDS} s; must be <= 1000)"
    stop_server
}

# A client that resets mid-download is the client's business: no [ERROR], no stack trace in the log.
exp_download_reset() {
    local www="$WORK/www" class out errors=0 cut=0 stacks=0 n=0
    mkdir -p "$www"
    truncate -s 256M "$www/big.bin"
    for class in async sync; do
        start_server 2 --worker-class "$class" --root "$www"
        out="$(clients resets --port "$SRV_PORT" --path /big.bin --clients 8)"
        sleep 0.5  # the worker logs after its next write fails; nothing else to wait on
        n=$((n + 8))
        cut=$((cut + $(field cut_mid_body "$out")))
        errors=$((errors + $(log_count '\[(ERROR|CRITICAL)\]')))
        stacks=$((stacks + $(log_count '^ +at ')))
        stop_server
    done
    row "client resets mid-download (256 MB)" "$n" "$errors" 0 yes "$(zero $((errors + stacks)))" \
        "$cut reset mid-body (8 async, 8 sync); errors = [ERROR] lines; $stacks stack-trace lines"
}

# ---------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------
command -v timeout >/dev/null || die "'timeout' (coreutils) is needed"
command -v python3 >/dev/null || die "python3 is needed (scripts/chaos/*.py)"
command -v wrk >/dev/null || apt_install wrk || die "wrk is needed (apt-get install wrk)"
command -v dotnet >/dev/null || [[ -n "$BIN" ]] || die "the .NET SDK ('dotnet') is needed"
build
if [[ $ASPNET -eq 1 ]]; then
    build_aspnet_app
    APP_LABEL=' (ASP.NET Core app)'
fi
log "Prefork: $MASTER"
for name in "${EXPERIMENTS[@]}"; do
    [[ -z "$ONLY" || ",$ONLY," == *",$name,"* ]] || continue
    log "$name"
    "exp_${name//-/_}"
done

echo
print_table
echo
echo "Prefork: $MASTER ($([[ $JIT -eq 1 ]] && echo JIT || echo as given/published))${APP_ARGS[1]:+, --app ${APP_ARGS[1]}}; $(nproc) CPUs; $((SECONDS - START_SECONDS)) s"
# A must-be-0 row that is not 0 fails the run.
if awk -F'\t' '$6 == "yes" && $7 != "PASS" { bad = 1 } END { exit !bad }' "$RESULTS"; then exit 1; fi
