# scripts/bench.sh --only tls: Prefork's own TLS beside nginx's, same certificate (ECDSA P-256), 2 workers each,
# rounds interleaved. Sourced by bench.sh after the publish; uses its helpers (log, run_wrk's bounds,
# stop_server, TOOLS) and its settings (ROUNDS, DURATION, CONNS). Prints a markdown report of medians:
#   keep-alive req/s over https (target >= 0.9x nginx), new TLS connections/s with Connection: close
#   (target >= 0.8x nginx), handshake CPU per connection (utime+stime of the server's process tree during the
#   close run / connections made), and session resumption: of 20 reconnections with a saved session
#   (openssl s_client -sess_in), how many were resumed, with 2 workers and with 1.

# tls_start KIND: KIND is prefork or nginx; sets SRV_PID, SRV_START, SRV_PORT, SRV_LOG as start_server does.
tls_start() {
    local kind="$1" workers="$2" i code=''
    SRV_LOG="$WORK/tls-$kind-$workers-$RANDOM.log"
    SRV_PORT=''
    case "$kind" in
        prefork)
            "$MASTER_BIN" --bind https://127.0.0.1:0 --workers "$workers" --certfile "$TLS_CERT" --keyfile "$TLS_KEY" \
                2>"$SRV_LOG" </dev/null >/dev/null &
            SRV_PID=$! ;;
        nginx)
            start_nginx nginx-tls nginx-tls.conf.in -e "s|@WORKERS@|$workers|g" -e "s|@CERT@|$TLS_CERT|g" -e "s|@KEY@|$TLS_KEY|g" ;;
    esac
    sleep 0.05
    SRV_START="$(start_time "$SRV_PID")"
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        [[ -n "$SRV_PORT" ]] || SRV_PORT="$(sed -n 's|.*Listening at: https://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$SRV_LOG" | head -n 1)"
        if [[ -n "$SRV_PORT" ]]; then
            code="$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "https://127.0.0.1:$SRV_PORT/hello" || true)"
            if [[ "$code" == 200 ]]; then
                [[ "$kind" != prefork || "$(grep -c 'Worker [0-9]* (pid [0-9]*) ready' "$SRV_LOG")" -ge "$workers" ]] && break
            fi
        fi
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$SRV_LOG" >&2; die "$kind exited before it was ready (its log is above)"; }
        sleep 0.1
    done
    [[ "$code" == 200 ]] || { cat "$SRV_LOG" >&2; die "$kind did not answer over TLS within ${READY_TIMEOUT}s"; }
    "${TOOLS[@]}" tree "$SRV_PID" >"$SRV_TREE"
}

# tls_cpu_ticks: utime+stime, in clock ticks, of the server and every process under it.
tls_cpu_ticks() {
    local pids p sum=0 line f
    pids="$SRV_PID $(cut -d' ' -f1 "$SRV_TREE")"
    for p in $pids; do
        { read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
        line="${line##*) }"
        read -ra f <<<"$line"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}

# tls_wrk OUT [wrk args]: wrk over https against the current server.
tls_wrk() {
    local out="$1" rc=0
    shift
    timeout --kill-after=5 "$((DURATION + 20))" wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s "$@" \
        "https://127.0.0.1:$SRV_PORT/hello" >"$out" 2>&1 &
    wait $! || rc=$?
    [[ $rc -eq 0 ]] || log "warning: wrk exited with $rc"
}

# tls_reused VERSION: of 20 reconnections (openssl s_client -tls1_2 or -tls1_3) with the session the first
# connection saved, how many resumed it. Each connection sends a request and reads to the end, so a TLS 1.3
# ticket, which comes after the handshake, has arrived before the session is saved.
tls_reused() {
    local i n=0 sess="$WORK/tls-session.pem" request='GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
    rm -f "$sess"
    printf "$request" | timeout 10 openssl s_client -connect "127.0.0.1:$SRV_PORT" "$1" -ign_eof -sess_out "$sess" >/dev/null 2>&1 || true
    for ((i = 0; i < 20; i++)); do
        printf "$request" | timeout 10 openssl s_client -connect "127.0.0.1:$SRV_PORT" "$1" -ign_eof -sess_in "$sess" 2>/dev/null |
            grep -q '^Reused' && n=$((n + 1))
    done
    echo "$n"
}

tls_bench() {
    local round kind entry label out rps errs t0 t1 tck
    local tls_results="$WORK/tls-results"
    : >"$tls_results"
    TLS_CERT="$WORK/tls-cert.pem"
    TLS_KEY="$WORK/tls-key.pem"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$TLS_KEY" -out "$TLS_CERT" >/dev/null 2>&1 ||
        die "openssl could not make the benchmark's certificate"
    tck="$(getconf CLK_TCK)"
    local servers=("prefork 2" "nginx 2")
    for ((round = 1; round <= ROUNDS; round++)); do
        local order=("${servers[@]}")
        ((round % 2 == 0)) && order=("${servers[1]}" "${servers[0]}")
        for entry in "${order[@]}"; do
            read -r kind workers <<<"$entry"
            label="$kind-${workers}w"
            log "tls round $round/$ROUNDS: $label"
            tls_start "$kind" "$workers"
            tls_wrk "$WORK/warmup.txt"
            out="$WORK/tls-keepalive-$label-$round.txt"
            tls_wrk "$out"
            rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
            echo "keepalive $label $round ${rps:-0}" >>"$tls_results"
            out="$WORK/tls-close-$label-$round.txt"
            t0="$(tls_cpu_ticks)"
            tls_wrk "$out" -H 'Connection: close'
            t1="$(tls_cpu_ticks)"
            rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
            local n
            n="$(awk '/requests in/ { print $1 }' "$out")"
            errs="$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$out" | awk '{ print $1 + $2 + $3 + $4 }')"
            echo "close $label $round ${rps:-0}" >>"$tls_results"
            # CPU microseconds per new connection.
            echo "cpu $label $round $(awk -v t="$((t1 - t0))" -v hz="$tck" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print 0 }')" >>"$tls_results"
            log "  keep-alive $(awk -v l="$label" -v r="$round" '$1 == "keepalive" && $2 == l && $3 == r { print $4 }' "$tls_results") req/s;" \
                "close ${rps:-?} conn/s (socket errors ${errs:-0}); CPU $(tail -n 1 "$tls_results" | cut -d' ' -f4) us/conn"
            if [[ $round -eq 1 ]]; then
                echo "reused12 $label 1 $(tls_reused -tls1_2)" >>"$tls_results"
                echo "reused13 $label 1 $(tls_reused -tls1_3)" >>"$tls_results"
            fi
            stop_server
        done
    done
    log "tls: prefork-1w resumption"
    tls_start prefork 1
    echo "reused12 prefork-1w 1 $(tls_reused -tls1_2)" >>"$tls_results"
    echo "reused13 prefork-1w 1 $(tls_reused -tls1_3)" >>"$tls_results"
    stop_server

    median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    pick() { awk -v m="$1" -v l="$2" '$1 == m && $2 == l { print $4 }' "$tls_results" | median; }
    local pk nk pc nc pu nu
    pk="$(pick keepalive prefork-2w)"; nk="$(pick keepalive nginx-2w)"
    pc="$(pick close prefork-2w)"; nc="$(pick close nginx-2w)"
    pu="$(pick cpu prefork-2w)"; nu="$(pick cpu nginx-2w)"
    verdict() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { r = b > 0 ? a / b : 0; printf "%.2fx nginx (target >= %sx: %s)", r, t, (r >= t ? "PASS" : "MISS") }'; }
    {
        echo "## TLS: Prefork beside nginx (same certificate, ECDSA P-256; 2 workers each; medians of $ROUNDS rounds, ${DURATION}s wrk -t1 -c$CONNS)"
        echo
        echo "| | Prefork 2w | nginx 2w | ratio |"
        echo "|---|---|---|---|"
        echo "| keep-alive req/s (https) | $pk | $nk | $(verdict "$pk" "$nk" 0.9) |"
        echo "| new TLS connections/s (Connection: close) | $pc | $nc | $(verdict "$pc" "$nc" 0.8) |"
        echo "| CPU per new connection (us, whole process tree) | $pu | $nu | |"
        echo "| sessions resumed, of 20 reconnections, TLS 1.2 | $(pick reused12 prefork-2w) | $(pick reused12 nginx-2w) | Prefork 1w: $(pick reused12 prefork-1w) |"
        echo "| sessions resumed, of 20 reconnections, TLS 1.3 | $(pick reused13 prefork-2w) | $(pick reused13 nginx-2w) | Prefork 1w: $(pick reused13 prefork-1w) |"
        echo
        echo "Command: $COMMAND. Load average at start: $LOADAVG."
    } | tee "$WORK/report.md"
    if [[ -n "$OUT" ]]; then cp "$WORK/report.md" "$OUT"; log "report written to $OUT"; fi
}
