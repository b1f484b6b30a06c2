# shellcheck shell=bash
# scenarios.sh: the scenarios bench.sh runs in rounds of their own (sourced by it; uses its start_server,
# measure, label_of, run_wrk, ROUNDS, FILES, NGINX_CONNS).

# scenario_rounds "SCENARIO..." "KIND WORKERS [PREFORK ARGS...]"...: every server in turn, --rounds times, the
# order reversed every other round; each one gets an unmeasured warm-up run of every scenario, then the
# measured runs.
scenario_rounds() {
    local -a scenarios servers order entry
    local round i s label
    read -ra scenarios <<<"$1"
    shift
    servers=("$@")
    for ((round = 1; round <= ROUNDS; round++)); do
        order=("${servers[@]}")
        if ((round % 2 == 0)); then
            order=()
            for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[$i]}"); done
        fi
        for i in "${!order[@]}"; do
            read -ra entry <<<"${order[$i]}"
            label="$(label_of "${entry[0]}" "${entry[1]}")"
            log "round $round/$ROUNDS: $label (${scenarios[*]})"
            start_server "${entry[@]}"
            for s in "${scenarios[@]}"; do wrk_scenario "$WORK/warmup.txt" 1 "$s"; done
            for s in "${scenarios[@]}"; do measure "$s" "$label" "$round"; done
            stop_server
        done
    done
}

# A 4 KB and a 1 MB file, served at /static/ by Prefork (--root) and nginx (alias, sendfile on).
static_rounds() {
    mkdir -p "$FILES"
    head -c 4096 /dev/urandom >"$FILES/4k.bin"
    head -c 1048576 /dev/urandom >"$FILES/1m.bin"
    scenario_rounds "static-4k static-1m" "async 2 --root $FILES --root-prefix /static" "nginx 2"
}

# 1,000 and 10,000 keep-alive clients on /hello; each server may hold them all (Kestrel sets no limit).
busy_rounds() {
    local limit=11000
    # shellcheck disable=SC2034 # start_server reads it (bash's dynamic scope)
    local NGINX_CONNS=$limit
    scenario_rounds "busy-1000 busy-10000" "async 2 --worker-connections $limit" "nginx 2" "kestrel 1"
}

# POST /echo with a 1 KB and a 64 KB body (nginx has no echo).
post_rounds() {
    scenario_rounds "post-1k post-64k" "async 2" "kestrel 1"
}
