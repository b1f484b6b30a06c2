#!/usr/bin/env bash
# fleet.sh: issue 16's fleet on one machine. HAProxy on 127.0.0.1 in front of 2-3 Prefork masters (each on its
# own port, standing for a machine), wrk load through HAProxy, and rolling deploys under that load: each master in
# turn gets TERM (lame duck: --health-path answers 503 for --shutdown-delay, HAProxy takes it out of rotation,
# then the drain) and a new master takes its port; then each in turn gets USR2 (a new master takes over its
# socket). Prints requests served, failed requests (goal: 0) and how HAProxy spread them over the masters.
#
#   scripts/fleet.sh                      # builds Release (JIT), installs haproxy and wrk if missing
#   scripts/fleet.sh --masters 2 --only term
#   scripts/fleet.sh --plain              # plain HTTP from HAProxy to the masters (no PROXY protocol v2)
#
# Bounded in count and time; talks only to 127.0.0.1; stops only what it started, by pid.
set -euo pipefail

MASTERS=3
WORKERS=2
DELAY=3              # --shutdown-delay: HAProxy's checks (every 300 ms, 2 failures) see 503 within about 1 s
GRACEFUL=10          # --graceful-timeout
SETTLE=3             # seconds of load before, between and after the deploys
ONLY='term,usr2'
SEND_PROXY=1
BIN=''
INSTALL=1
KEEP=0
BOUND=60             # seconds any one wait may take (a master ready, stopped, or seen UP by HAProxy)
WRK=(wrk -t1 -c32 -d2s --timeout 5s)

usage() {
    cat <<EOF
Usage: scripts/fleet.sh [options]

Starts HAProxy on 127.0.0.1 in front of N Prefork masters (--health-path /healthz, --shutdown-delay), puts wrk
load through it, rolls every master (TERM and a new master on its port; USR2), and prints one table: phase,
requests, failed, and each master's share of the responses (HAProxy's own count).
Exit code 1 when a request failed; 2 when the script itself cannot run.

Options:
  --masters N     masters behind HAProxy, 2 or 3 (default $MASTERS)
  --workers N     workers per master (default $WORKERS)
  --delay S       each master's --shutdown-delay (default $DELAY)
  --only PHASES   term, usr2 or term,usr2 (default)
  --plain         plain HTTP from HAProxy to the masters; by default HAProxy sends PROXY protocol v2
                  (send-proxy-v2, health checks too) and the masters run --proxy-protocol --proxy-allow-from 127.0.0.1
  --bin PATH      use this Prefork.Master (no build)
  --no-install    do not apt-get haproxy or wrk
  --keep          keep the work directory (logs, HAProxy config) and print its path
  -h, --help      this help
EOF
}

die() { printf 'fleet.sh: %s\n' "$*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --masters)    [[ "${2:-}" =~ ^[23]$ ]] || die "--masters must be 2 or 3"; MASTERS="$2"; shift 2 ;;
        --workers)    [[ "${2:-}" =~ ^[1-8]$ ]] || die "--workers must be from 1 to 8"; WORKERS="$2"; shift 2 ;;
        --delay)      [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--delay needs seconds"; DELAY="$2"; shift 2 ;;
        --only)       [[ "${2:-}" =~ ^(term|usr2)(,(term|usr2))?$ ]] || die "--only takes term, usr2 or term,usr2"; ONLY="$2"; shift 2 ;;
        --plain)      SEND_PROXY=0; shift ;;
        --bin)        [[ -n "${2:-}" ]] || die "--bin needs a path"; BIN="$2"; shift 2 ;;
        --no-install) INSTALL=0; shift ;;
        --keep)       KEEP=1; shift ;;
        -h|--help)    usage; exit 0 ;;
        *)            die "unknown option '$1' (try --help)" ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prefork-fleet.XXXXXX")"
START_SECONDS=$SECONDS
log() { printf '[fleet %4ds] %s\n' "$((SECONDS - START_SECONDS))" "$*" >&2; }
# shellcheck source=scripts/lib/apt.sh
source "$ROOT/scripts/lib/apt.sh"

HAPROXY_PID=''
LOAD_PID=''
STOP_LOAD="$WORK/stop-load"
declare -a PORT      # PORT[i]: master i's port, kept across its replacements
declare -a PIDS=()   # every master this script started or saw start (USR2), for the cleanup

# is_ours PID: a Prefork master still running under that pid (not a later process reusing it).
is_ours() { [[ -n "$1" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q 'Prefork\.Master'; }

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    touch "$STOP_LOAD"
    [[ -z "$LOAD_PID" ]] || wait "$LOAD_PID" 2>/dev/null || true
    local deadline=$((SECONDS + BOUND)) file
    # The masters a USR2 started name themselves in the pid files.
    for file in "$WORK"/master-*.pid; do [[ ! -s "$file" ]] || PIDS+=("$(cat "$file" 2>/dev/null || true)"); done
    for pid in "${PIDS[@]}"; do ! is_ours "$pid" || kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        while ! gone "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        ! is_ours "$pid" || gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    done
    [[ -z "$HAPROXY_PID" ]] || kill -TERM "$HAPROXY_PID" 2>/dev/null || true
    if [[ $KEEP -eq 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for WHAT COMMAND...: runs COMMAND every 100 ms until it succeeds, at most BOUND seconds.
wait_for() {
    local what="$1" deadline=$((SECONDS + BOUND))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || die "$what: not within ${BOUND}s (logs in $WORK; rerun with --keep)"
        sleep 0.1
    done
}
# gone PID: exited (a zombie not yet reaped counts as gone).
gone() { [[ -z "$1" || ! -e "/proc/$1" ]] || [[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" == Z ]]; }
wait_gone() { wait_for "master $1 to exit" gone "$1"; }
ready_count() { grep -c ' ready$' "$1" 2>/dev/null || true; }
ready_at_least() { [[ "$(ready_count "$1")" -ge "$2" ]]; }

free_ports() { python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }

# ---------------------------------------------------------------------------------------------------------
# Tools and the build.
# ---------------------------------------------------------------------------------------------------------
for tool in haproxy wrk curl; do
    command -v "$tool" >/dev/null || apt_install "$tool" || die "$tool is needed (apt-get install $tool)"
done
if [[ -n "$BIN" ]]; then
    MASTER="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
else
    log "building (dotnet build -c Release src/Master)"
    (cd "$ROOT" && timeout 900 dotnet build -c Release src/Master -nologo -v quiet) >"$WORK/build.log" 2>&1 ||
        { tail -n 30 "$WORK/build.log" >&2; die "the build failed (end of its log above)"; }
    MASTER="$ROOT/src/Master/bin/Release/net10.0/Prefork.Master"
fi
[[ -x "$MASTER" ]] || die "no Prefork.Master at $MASTER"

read -r FRONT STATS ports <<<"$(free_ports $((MASTERS + 2)))"
read -r -a PORT <<<"$ports"
PROXY_FLAGS=()
[[ $SEND_PROXY -eq 0 ]] || PROXY_FLAGS=(--proxy-protocol --proxy-allow-from 127.0.0.1)

# start_master I: a master on PORT[I]; waits until its workers are ready. Its log and pid file are master-I.*.
start_master() {
    local i="$1" log="$WORK/master-$1.log" before
    before="$(ready_count "$log")"
    "$MASTER" --bind "127.0.0.1:${PORT[$i]}" --workers "$WORKERS" --health-path /healthz --shutdown-delay "$DELAY" \
        --graceful-timeout "$GRACEFUL" --pid "$WORK/master-$i.pid" "${PROXY_FLAGS[@]}" </dev/null >/dev/null 2>>"$log" &
    PIDS+=($!)
    wait_for "master $((i + 1)) ready" ready_at_least "$log" $((${before:-0} + WORKERS))
}

# ---------------------------------------------------------------------------------------------------------
# HAProxy: health checks on /healthz every 300 ms (2 failures: down; 2 successes: up); a request whose server
# connection failed or closed unanswered is retried, on another master (redispatch).
# ---------------------------------------------------------------------------------------------------------
write_haproxy_config() {
    local i proxy=''
    [[ $SEND_PROXY -eq 0 ]] || proxy=' send-proxy-v2'
    {
        printf 'global\n    maxconn 4096\n\n'
        printf 'defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n'
        printf '    retries 3\n    option redispatch\n    retry-on conn-failure empty-response response-timeout\n\n'
        printf 'frontend fleet\n    bind 127.0.0.1:%s\n    default_backend prefork\n\n' "$FRONT"
        printf 'backend prefork\n    balance roundrobin\n    option httpchk GET /healthz\n    http-check expect status 200\n'
        printf '    default-server check inter 300ms fall 2 rise 2%s\n' "$proxy"
        for i in "${!PORT[@]}"; do printf '    server m%d 127.0.0.1:%s\n' "$((i + 1))" "${PORT[$i]}"; done
        printf '\nlisten stats\n    bind 127.0.0.1:%s\n    stats enable\n    stats uri /stats\n' "$STATS"
    } >"$WORK/haproxy.cfg"
}

# stats FIELD...: per master m1..mN, the named columns of HAProxy's CSV (status, hrsp_2xx, ...), one line each.
stats() {
    curl -fsS "http://127.0.0.1:$STATS/stats;csv" 2>/dev/null | awk -F, -v want="$*" '
        NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; n = split(want, w, " "); next }
        $1 == "prefork" && $2 ~ /^m[0-9]+$/ { line = $2; for (i = 1; i <= n; i++) line = line " " $(col[w[i]]); print line }'
}
new_pid_file() { [[ -s "$1" && "$(cat "$1" 2>/dev/null)" != "$2" ]]; }
is_up() { stats status | grep -q "^m$(($1 + 1)) UP$"; }
is_down() { ! is_up "$1"; }

# ---------------------------------------------------------------------------------------------------------
# Load: wrk in 2-second slices until told to stop, each slice's figures appended to a file.
# ---------------------------------------------------------------------------------------------------------
load_loop() {
    while [[ ! -e "$STOP_LOAD" ]]; do "${WRK[@]}" "http://127.0.0.1:$FRONT/hello" >>"$WORK/wrk.out" 2>&1 || true; done
}
# load_totals: "REQUESTS FAILED" over every slice: socket errors of any kind and non-2xx answers are failures.
load_totals() {
    awk '/ requests in / { req += $1 }
         /Socket errors:/ { gsub(/,/, ""); fail += $4 + $6 + $8 + $10 }
         /Non-2xx or 3xx responses:/ { fail += $5 }
         END { print req + 0, fail + 0 }' "$WORK/wrk.out"
}

ROWS=()
# row PHASE: the load's figures since the last row, and each master's share of the responses since then.
declare -A LAST_2XX=()
LAST_REQ=0; LAST_FAIL=0
row() {
    local phase="$1" req fail spread='' name n total=0
    read -r req fail <<<"$(load_totals)"
    declare -A now=()
    while read -r name n; do now[$name]=$n; total=$((total + n - ${LAST_2XX[$name]:-0})); done <<<"$(stats hrsp_2xx)"
    for name in $(printf '%s\n' "${!now[@]}" | sort); do
        n=$((now[$name] - ${LAST_2XX[$name]:-0}))
        spread+="$(printf '%s %d (%d%%)  ' "$name" "$n" $((total > 0 ? 100 * n / total : 0)))"
        LAST_2XX[$name]=${now[$name]}
    done
    ROWS+=("$(printf '%-34s %10d %7d  %s' "$phase" $((req - LAST_REQ)) $((fail - LAST_FAIL)) "$spread")")
    LAST_REQ=$req; LAST_FAIL=$fail
}

# wait_slices N: lets the load run N more whole slices (a row's figures are whole slices).
slices() { grep -c ' requests in ' "$WORK/wrk.out" 2>/dev/null || true; }
slices_at_least() { [[ "$(slices)" -ge "$1" ]]; }
wait_slices() { wait_for "$1 slices of load" slices_at_least $(($(slices) + $1)); }

# ---------------------------------------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------------------------------------
log "Prefork: $MASTER; $MASTERS masters x $WORKERS workers on ports ${PORT[*]}; HAProxy on $FRONT"
for i in "${!PORT[@]}"; do start_master "$i"; done
write_haproxy_config
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!
for i in "${!PORT[@]}"; do wait_for "HAProxy to see master $((i + 1)) up" is_up "$i"; done

: >"$WORK/wrk.out"
load_loop &
LOAD_PID=$!
wait_slices "$SETTLE"
row "steady load"

if [[ ",$ONLY," == *,term,* ]]; then
    for i in "${!PORT[@]}"; do
        pid="$(cat "$WORK/master-$i.pid")"
        log "m$((i + 1)): TERM to master $pid (lame duck ${DELAY}s, then drain)"
        kill -TERM "$pid"
        wait_for "HAProxy to take m$((i + 1)) out" is_down "$i"
        wait_gone "$pid"
        log "m$((i + 1)): a new master on port ${PORT[$i]}"
        start_master "$i"
        wait_for "HAProxy to see m$((i + 1)) up" is_up "$i"
    done
    wait_slices 1
    row "rolling deploy: TERM + new master"
fi

if [[ ",$ONLY," == *,usr2,* ]]; then
    for i in "${!PORT[@]}"; do
        pid="$(cat "$WORK/master-$i.pid")"
        log "m$((i + 1)): USR2 to master $pid"
        kill -USR2 "$pid"
        wait_for "the new master of m$((i + 1))" new_pid_file "$WORK/master-$i.pid" "$pid"
        PIDS+=("$(cat "$WORK/master-$i.pid" 2>/dev/null || true)")
        wait_gone "$pid"
        wait_for "HAProxy to see m$((i + 1)) up" is_up "$i"
    done
    wait_slices 1
    row "rolling deploy: USR2"
fi

wait_slices "$SETTLE"
row "steady load, after"
touch "$STOP_LOAD"
wait "$LOAD_PID" || true
LOAD_PID=''

read -r total failed <<<"$(load_totals)"
echo
echo "HAProxy (127.0.0.1:$FRONT) -> $MASTERS Prefork masters x $WORKERS workers, --shutdown-delay $DELAY," \
    "wrk -t1 -c32 /hello in 2 s slices$([[ $SEND_PROXY -eq 1 ]] && echo ', PROXY protocol v2')"
printf '%-34s %10s %7s  %s\n' phase requests failed 'spread (responses per master, HAProxy count)'
printf '%-34s %10s %7s  %s\n' ---------------------------------- ---------- ------- ---------------------------------------------
printf '%s\n' "${ROWS[@]}"
printf '%-34s %10d %7d\n' total "$total" "$failed"
[[ "$failed" -eq 0 ]]
