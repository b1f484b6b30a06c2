# shellcheck shell=bash
# harness.sh: the plumbing of scripts/chaos.sh, which sources it: servers, wrk, result rows and the table,
# the build. It uses chaos.sh's settings (WORK, MASTER, RESULTS, the timeouts) and helpers (log, die, procs).

# ---------------------------------------------------------------------------------------------------------
# Servers. SRV_PID is the master this script started; its workers are the pids it logs ("Booting worker N with
# pid P") that started after it (never a later process that reuses a pid): cleanup kills only those.
# ---------------------------------------------------------------------------------------------------------
SRV_PID=''
SRV_PORT=''
SRV_LOG=''
SRV_START=''
SERVER_COUNT=0

# start_server WORKERS [PREFORK ARGS...]: a fresh master on 127.0.0.1:0; returns once all its workers are ready.
start_server() {
    local workers="$1"
    shift
    SERVER_COUNT=$((SERVER_COUNT + 1))
    SRV_LOG="$WORK/server-$SERVER_COUNT.log"
    "$MASTER" --bind 127.0.0.1:0 --workers "$workers" "${APP_ARGS[@]}" "$@" </dev/null >/dev/null 2>"$SRV_LOG" &
    SRV_PID=$!
    SRV_START="$(procs start "$SRV_PID")"
    if ! procs wait --pid "$SRV_PID" --log "$SRV_LOG" --pattern ' ready$' --count "$workers" \
        --bound "$READY_TIMEOUT" >/dev/null; then
        cat "$SRV_LOG" >&2
        die "the server (args: $*) did not get $workers workers ready within ${READY_TIMEOUT}s (log above)"
    fi
    SRV_PORT="$(sed -n 's|.*Listening at: http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$SRV_LOG" | head -n 1)"
    [[ -n "$SRV_PORT" ]] || die "no 'Listening at' line in $SRV_LOG"
}

# stop_master PID START LOG: SIGTERM to our child PID (not yet reaped, so its pid cannot have been reused), a
# bounded wait, then SIGKILL; then the workers LOG names that are still running.
stop_master() {
    local pid="$1" start="$2" log="$3"
    kill -TERM "$pid" 2>/dev/null || true
    if ! procs wait --pid "$pid" --bound "$STOP_TIMEOUT" >/dev/null; then
        log "warning: master $pid did not stop within ${STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    kill_orphans "$log" "$start" 3 >/dev/null
}

# kill_orphans LOG START GRACE: the workers LOG names still running after GRACE seconds are killed; prints them.
kill_orphans() {
    local left p
    left="$(procs orphans --log "$1" --since "$2" --bound "$3" --kill)" || die "procs.py orphans failed"
    for p in $left; do
        log "warning: worker $p outlived its master; killed it"
        echo "$p"
    done
}

stop_server() {
    local pid="$SRV_PID"
    SRV_PID=''
    [[ -z "$pid" ]] || stop_master "$pid" "$SRV_START" "$SRV_LOG"
}

# log_count REGEX: lines of the current server's log that match.
log_count() { grep -cE "$1" "$SRV_LOG" || true; }

# ---------------------------------------------------------------------------------------------------------
# wrk: WRK_OUT is the output of the last run.
# ---------------------------------------------------------------------------------------------------------
WRK_PID=''
WRK_OUT=''

# wrk_start SECONDS PATH: load the current server in the background.
wrk_start() {
    WRK_OUT="$WORK/wrk-$SERVER_COUNT-$RANDOM.txt"
    timeout --kill-after=5 "$(($1 + 30))" "${WRK[@]}" -d"$1s" "http://127.0.0.1:$SRV_PORT$2" >"$WRK_OUT" 2>&1 &
    WRK_PID=$!
}

# wrk_wait: waits for the run (in this shell: wrk is its child); sets WRK_STATS to
# "requests connect read write timeout non2xx".
WRK_STATS=''
wrk_wait() {
    local rc=0 requests sock non2xx
    wait "$WRK_PID" || rc=$?
    [[ $rc -eq 0 ]] || log "warning: wrk exited with $rc (124: it hit its time cap)"
    requests="$(awk '/ requests in / { print $1 }' "$WRK_OUT")"
    sock="$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$WRK_OUT")"
    non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WRK_OUT")"
    WRK_STATS="${requests:-0} ${sock:-0 0 0 0} ${non2xx:-0}"
}

# ---------------------------------------------------------------------------------------------------------
# Results: one row per measurement.
# ---------------------------------------------------------------------------------------------------------
# row EXPERIMENT REQUESTS ERRORS SIGNALS MUST(yes|no) VERDICT NOTE
row() {
    local per=-
    [[ "$4" -gt 0 ]] && per="$(awk -v e="$3" -v s="$4" 'BEGIN { printf "%.2f", e / s }')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$per" "$5" "$6" "$7" >>"$RESULTS"
    log "  $1: requests $2, errors $3, signals $4 -> $6 ($7)"
}
zero() { [[ "$1" -eq 0 ]] && echo PASS || echo FAIL; }

# wrk_row EXPERIMENT SIGNALS NOTE: a must-be-0 row from the last wrk run, after wrk_wait (every kind of error counts).
wrk_row() {
    local requests connect read write tmo non2xx errors
    read -r requests connect read write tmo non2xx <<<"$WRK_STATS"
    errors=$((connect + read + write + tmo + non2xx))
    row "$1" "$requests" "$errors" "$2" yes "$(zero "$errors")" \
        "wrk: connect $connect, read $read, write $write, timeout $tmo, non-2xx $non2xx; $3"
}

cut_off_note() { echo "log: $(log_count 'connection\(s\) cut off') \"connection(s) cut off\", $(log_count '\[(ERROR|CRITICAL)\]') [ERROR]"; }

# signals_in SECONDS INTERVAL: how many signals, one every INTERVAL seconds, fit in a load of SECONDS (at least 1).
signals_in() { awk -v d="$1" -v e="$2" 'BEGIN { n = int(d / e) - 1; print (n > 0 ? n : 1) }'; }

# signal_loop INTERVAL COUNT SIGNAL...: COUNT signals to the master, one every INTERVAL seconds, taking the SIGNALs
# in turn.
signal_loop() {
    local interval="$1" count="$2" i
    shift 2
    local signals=("$@")
    for ((i = 0; i < count; i++)); do
        sleep "$interval"
        kill -"${signals[i % ${#signals[@]}]}" "$SRV_PID"
    done
}

# ---------------------------------------------------------------------------------------------------------
# Tools and the build
# ---------------------------------------------------------------------------------------------------------
# shellcheck source=scripts/lib/apt.sh
source "$ROOT/scripts/lib/apt.sh"

build() {
    if [[ -n "$BIN" ]]; then
        [[ -f "$BIN" && -x "$BIN" ]] || die "--bin: no program at $BIN"
        MASTER="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
    elif [[ $JIT -eq 1 ]]; then
        log "building (dotnet build -c Release src/Master)"
        (cd "$ROOT" && timeout 900 dotnet build -c Release src/Master -nologo -v quiet) >"$WORK/build.log" 2>&1 ||
            { tail -n 30 "$WORK/build.log" >&2; die "the build failed (end of its log above)"; }
        MASTER="$ROOT/src/Master/bin/Release/net10.0/Prefork.Master"
    else
        # NativeAOT links with clang or gcc.
        compgen -c | grep -qE '^(clang|gcc)$' || apt_install clang || die "clang or gcc is needed to publish NativeAOT"
        log "publishing NativeAOT (dotnet publish -c Release src/Master)"
        (cd "$ROOT" && timeout 900 dotnet publish -c Release src/Master -o "$WORK/prefork" -nologo -v quiet) \
            >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; die "the publish failed (end of its log above)"; }
        MASTER="$WORK/prefork/Prefork.Master"
    fi
    [[ -x "$MASTER" ]] || die "no Prefork.Master at $MASTER"
}

# build_aspnet_app: the SDK's web template, offline (the template and ASP.NET Core ship with the SDK, and the app
# has no package to restore), with the paths the experiments load; sets APP_ARGS.
build_aspnet_app() {
    local dir="$WORK/webapp" dll
    command -v dotnet >/dev/null || die "--aspnet: the .NET SDK ('dotnet') is needed to build the app"
    log "building the ASP.NET Core app (dotnet new web; dotnet build -c Release)"
    (timeout 300 dotnet new web -o "$dir" -n ChaosWeb --no-update-check) >"$WORK/webapp-build.log" 2>&1 ||
        { tail -n 30 "$WORK/webapp-build.log" >&2; die "dotnet new web failed (end of its log above)"; }
    cat >"$dir/Program.cs" <<'APP'
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapGet("/hello", () => "Hello, World!");
app.MapGet("/sleep", async (int ms) => { await Task.Delay(ms); return $"slept {ms} ms"; });
app.Run();
APP
    (timeout 600 dotnet build "$dir" -c Release -nologo -v quiet) >>"$WORK/webapp-build.log" 2>&1 ||
        { tail -n 30 "$WORK/webapp-build.log" >&2; die "the app's build failed (end of its log above)"; }
    dll="$(find "$dir/bin/Release" -name ChaosWeb.dll | head -n 1)"
    [[ -f "$dll" ]] || die "no ChaosWeb.dll after the build (see $WORK/webapp-build.log)"
    APP_ARGS=(--app "$dll")
}

# ---------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------
print_table() {
    awk -F'\t' '
        function pad(s, k, right) { while (length(s) < k) s = right ? " " s : s " "; return s }
        function line(r,   i, out) {
            out = "|"
            for (i = 1; i <= 7; i++) out = out " " pad(c[r, i], w[i], i >= 2 && i <= 5) " |"
            return out " " c[r, 8]
        }
        { n++; for (i = 1; i <= 8; i++) c[n, i] = $i }
        END {
            split("experiment|requests|errors|signals|errors/signal|must be 0|result|notes", h, "|")
            for (i = 1; i <= 8; i++) { c[0, i] = h[i]; w[i] = length(h[i]) }
            for (r = 1; r <= n; r++) for (i = 1; i <= 7; i++) if (length(c[r, i]) > w[i]) w[i] = length(c[r, i])
            print line(0)
            sep = "|"
            for (i = 1; i <= 7; i++) sep = sep (i >= 2 && i <= 5 ? pad("", w[i] + 1, 0) ":" : pad("", w[i] + 2, 0)) "|"
            gsub(/ /, "-", sep)
            print sep "---"
            for (r = 1; r <= n; r++) print line(r)
        }
    ' "$RESULTS"
}
