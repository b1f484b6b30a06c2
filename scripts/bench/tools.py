#!/usr/bin/env python3
"""Helpers for scripts/bench.sh (standard library only).

  tools.py freeport                         a free TCP port on 127.0.0.1
  tools.py rss PID                          "total_kb root_kb children children_sum_kb children_max_kb"
                                            (VmRSS of PID and all its descendants, from /proc)
  tools.py cpu PID                          CPU time (user + system) PID and its descendants have used, in µs
  tools.py machinecpu                       CPU time every core of the machine has been busy (from /proc/stat), in µs
  tools.py killtest --port P --master PID --log LOG [--trials 5] [--bound 5]
                                            SIGKILL one worker at a time, time the replacement
  tools.py hold --port P --master PID [--conns 10000] [--wait 5] [--procs 1]
                                            hold N idle keep-alive connections (from P client processes),
                                            ask again on each
  tools.py spread FILE                      from wrk's per-pid counts: "pids max min ratio"
  tools.py report --results F --extras F --rounds N --duration S --command CMD
                                            the markdown report
"""
import asyncio
import os
import re
import signal
import socket
import statistics
import struct
import sys
import time


# ------------------------------------------------------------------------------------------------ /proc
def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields after the last ')' are fixed.
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(root):
    kids, out, todo = children_map(), [], [root]
    while todo:
        pid = todo.pop()
        for k in kids.get(pid, []):
            out.append(k)
            todo.append(k)
    return out


def vmrss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss(root):
    root_kb = vmrss_kb(root)
    kids = [vmrss_kb(p) for p in descendants(root)]
    kids = [k for k in kids if k > 0]
    return root_kb + sum(kids), root_kb, len(kids), sum(kids), max(kids, default=0)


def cmd_rss(args):
    print(*rss(int(args[0])))


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def cmd_cpu(args):
    root = int(args[0])
    ticks = sum(cpu_ticks(p) for p in [root] + descendants(root))
    print(ticks * 1_000_000 // os.sysconf("SC_CLK_TCK"))


def cmd_machinecpu(args):
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    busy = sum(fields[:8]) - fields[3] - fields[4]
    print(busy * 1_000_000 // os.sysconf("SC_CLK_TCK"))


def starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2:].split()[19]
    except (OSError, IndexError):
        return None


def cmd_tree(args):
    """The descendants of PID as "pid starttime" lines, so that a later kill can check it is the same process."""
    for pid in descendants(int(args[0])):
        st = starttime(pid)
        if st:
            print(pid, st)


def cmd_alive(args):
    """Exit 0 when PID still runs with this start time (not a reused pid), else 1."""
    sys.exit(0 if starttime(int(args[0])) == args[1] else 1)


def cmd_freeport(_):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def opt(args, name, default=None, conv=str):
    if name in args:
        return conv(args[args.index(name) + 1])
    if default is None:
        sys.exit(f"tools.py: {name} is needed")
    return default


# ------------------------------------------------------------------------------------------------ killtest
def get_worker_pid(port, timeout=0.5):
    """GET /worker on a fresh connection (Connection: close); the pid that answered, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET /worker HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        if not data.startswith(b"HTTP/1.1 200"):
            return None
        m = re.search(rb'"pid":(\d+)', data)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def worker_pids(master):
    out = []
    for pid in children_map().get(master, []):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"Prefork.Worker" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return sorted(out)


def cmd_killtest(args):
    port, master = opt(args, "--port", conv=int), opt(args, "--master", conv=int)
    log, trials, bound = opt(args, "--log"), opt(args, "--trials", 5, int), opt(args, "--bound", 5.0, float)
    ready_ms, serve_ms = [], []
    for trial in range(trials):
        old = worker_pids(master)
        if not old:
            print(f"KILL trial={trial + 1} no-workers")
            break
        victim = old[trial % len(old)]
        offset = os.path.getsize(log)
        t0 = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        t_ready = t_serve = None
        new_pid, buf, tries = None, "", 0
        while time.perf_counter() - t0 < bound and (t_ready is None or t_serve is None):
            with open(log, errors="replace") as f:
                f.seek(offset)
                buf += f.read()
                offset = f.tell()
            if new_pid is None:
                m = re.search(r"Booting worker \d+ with pid (\d+)", buf)
                if m:
                    new_pid = int(m.group(1))
            if t_ready is None and new_pid is not None and re.search(rf"Worker \d+ \(pid {new_pid}\) ready", buf):
                t_ready = time.perf_counter()
            if t_serve is None:
                tries += 1
                pid = get_worker_pid(port)
                # Served by a pid that was not a worker before the kill: the replacement.
                if pid is not None and pid not in old:
                    t_serve = time.perf_counter()
            time.sleep(0.001)
        r = (t_ready - t0) * 1000 if t_ready else None
        s = (t_serve - t0) * 1000 if t_serve else None
        print(f"KILL trial={trial + 1} victim={victim} new={new_pid} ready_ms={r if r is None else round(r, 1)} "
              f"served_ms={s if s is None else round(s, 1)} requests={tries}", flush=True)
        if r is not None:
            ready_ms.append(r)
        if s is not None:
            serve_ms.append(s)
        # Let the replacement settle before the next kill.
        time.sleep(0.5)
    med = lambda v: f"{statistics.median(v):.1f}" if v else "-"
    print(f"KILLSUM ready_median_ms={med(ready_ms)} served_median_ms={med(serve_ms)} "
          f"ready_n={len(ready_ms)} served_n={len(serve_ms)} trials={trials}")


# ------------------------------------------------------------------------------------------------ hold
REQ = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def ask(reader, writer, timeout):
    writer.write(REQ)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    if not head.startswith(b"HTTP/1.1 200"):
        return False
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if m:
        await asyncio.wait_for(reader.readexactly(int(m.group(1))), timeout)
    return b"connection: close" not in head.lower()


async def hold_part(port, conns, source, report, go):
    """Opens and answers CONNS connections, writes "opened errors" to REPORT, waits for a line on GO, asks again on
    each, writes "answered errors" and closes them. SOURCE, when set, is the local address to connect from: each
    pair of loopback addresses has its own ephemeral ports, so several parts hold more than one pair could."""
    sem = asyncio.Semaphore(200)
    streams = []
    errors = {}
    local = (source, 0) if source else None

    async def open_one():
        async with sem:
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, limit=65536, local_addr=local), 30)
            except Exception as e:  # noqa: BLE001
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                return
            try:
                ok = await ask(r, w, 30)
            except Exception as e:  # noqa: BLE001
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                ok = False
            if ok:
                streams.append((r, w))
            else:
                w.close()

    await asyncio.gather(*(open_one() for _ in range(conns)))
    os.write(report, f"{len(streams)} {err_text(errors)}\n".encode())
    await asyncio.get_running_loop().run_in_executor(None, os.read, go, 16)
    sem2 = asyncio.Semaphore(2000)
    errors.clear()

    async def again(r, w):
        async with sem2:
            try:
                return await ask(r, w, 30)
            except Exception as e:  # noqa: BLE001
                errors["again-" + type(e).__name__] = errors.get("again-" + type(e).__name__, 0) + 1
                return False

    results = await asyncio.gather(*(again(r, w) for r, w in streams))
    os.write(report, f"{sum(1 for x in results if x)} {err_text(errors)}\n".encode())
    # Closed with a reset: a FIN would leave each in TIME_WAIT for a minute, and the next server's hold, from the same
    # source addresses, would open its connections while connect() searches for a free port (78 s for nginx's
    # 100,000 after Prefork's, 31 s for Prefork's own).
    linger = struct.pack("ii", 1, 0)
    for _, w in streams:
        w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        w.close()


def err_text(errors):
    return ",".join(f"{k}:{v}" for k, v in sorted(errors.items())) or "none"


def read_line(fd):
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 256)
        if not chunk:
            return ["0", "part-died:1"]
        data += chunk
    return data.decode().split()


def hold(port, master, conns, wait, procs):
    """Holds CONNS idle keep-alive connections from PROCS client processes (one open-file limit each), from
    127.0.0.2, .3, ... when there are several. Prints the RSS of the server's process tree before, while they
    are held and after each was asked again, and the growth per connection."""
    before = rss(master)
    parts = []
    t0 = time.perf_counter()
    for i in range(procs):
        n = conns // procs + (1 if i < conns % procs else 0)
        report_r, report_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(report_r)
            os.close(go_w)
            asyncio.run(hold_part(port, n, f"127.0.0.{2 + i}" if procs > 1 else None, report_w, go_r))
            os._exit(0)
        os.close(report_w)
        os.close(go_r)
        parts.append((pid, report_r, go_w))
    opened = [read_line(r) for _, r, _ in parts]
    first = sum(int(o[0]) for o in opened)
    t_open = time.perf_counter() - t0
    time.sleep(wait)
    held = rss(master)
    for _, _, go in parts:
        os.write(go, b"go\n")
    answered = [read_line(r) for _, r, _ in parts]
    second = sum(int(a[0]) for a in answered)
    after = rss(master)
    for pid, _, _ in parts:
        os.waitpid(pid, 0)
    errs = [e for line in opened + answered for e in line[1:] if e != "none"]
    per_conn = (held[0] - before[0]) * 1024 // max(first, 1)
    print(f"HOLD conns={conns} procs={procs} first_ok={first} open_s={t_open:.1f} waited_s={wait} second_ok={second} "
          f"rss_before_kb={before[0]} rss_total_kb={held[0]} rss_master_kb={held[1]} workers={held[2]} "
          f"rss_after_kb={after[0]} per_conn_bytes={per_conn} errors={','.join(errs) or 'none'}", flush=True)


def cmd_hold(args):
    port, master = opt(args, "--port", conv=int), opt(args, "--master", conv=int)
    hold(port, master, opt(args, "--conns", 10000, int), opt(args, "--wait", 5.0, float), opt(args, "--procs", 1, int))


# ------------------------------------------------------------------------------------------------ spread
def cmd_spread(args):
    counts = {}
    with open(args[0]) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0] == "PID":
                counts[p[1]] = counts.get(p[1], 0) + int(p[2])
    expected = int(args[1]) if len(args) > 1 else len(counts)
    vals = list(counts.values()) + [0] * max(0, expected - len(counts))
    if not vals:
        print("0 0 0 inf -")
        return
    hi, lo = max(vals), min(vals)
    ratio = f"{hi / lo:.2f}" if lo > 0 else "inf"
    print(len(counts), hi, lo, ratio, "/".join(str(v) for v in sorted(vals, reverse=True)))


# ------------------------------------------------------------------------------------------------ report
def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)


def fnum(x, fmt="{:.0f}"):
    return "-" if x is None else fmt.format(x)


def mb(kb):
    return "-" if kb is None else f"{kb / 1024:.1f}"


def mark(ok):
    return "PASS" if ok else "MISS"


def cmd_report(args):
    results, extras = opt(args, "--results"), opt(args, "--extras")
    rounds, duration, command = opt(args, "--rounds"), opt(args, "--duration"), opt(args, "--command")
    rows = {}  # (scenario, server) -> list of dicts
    order = []
    with open(results) as f:
        for line in f:
            d = kv(line)
            if not d:
                continue
            d["server"] = d["server"].replace("_", " ")
            key = (d["scenario"], d["server"])
            if key not in rows:
                rows[key] = []
                order.append(key)
            rows[key].append(d)
    ex = {}
    if os.path.exists(extras):
        with open(extras) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    ex[k] = v

    def med(key, field):
        v = [float(d[field]) for d in rows.get(key, []) if d.get(field) not in (None, "", "-")]
        return statistics.median(v) if v else None

    def tot(key, field):
        return sum(int(d[field]) for d in rows.get(key, []) if d.get(field, "").isdigit())

    scenarios = []
    for s, _ in order:
        if s not in scenarios:
            scenarios.append(s)
    titles = {"keepalive": "keep-alive, 64 conns", "close": "Connection: close, 64 conns",
              "aspnet-hello": "ASP.NET Core app, GET /hello, keep-alive, 64 conns",
              "aspnet-json": "ASP.NET Core app, GET /json, keep-alive, 64 conns",
              "paced": "keep-alive, 64 conns, paced (2 ms between a response and the next request)",
              "aspnet-paced": "ASP.NET Core app, GET /hello, keep-alive, 64 conns, paced (2 ms between requests)",
              "static-4k": "static file, 4 KB, keep-alive, 64 conns", "static-1m": "static file, 1 MB, keep-alive, 64 conns",
              "busy-1000": "keep-alive, 1,000 conns", "busy-10000": "keep-alive, 10,000 conns",
              "post-1k": "POST /echo, 1 KB body, keep-alive, 64 conns",
              "post-64k": "POST /echo, 64 KB body, keep-alive, 64 conns"}
    out = []
    out.append(f"### Benchmark: wrk -t1 (GET /hello unless said), {duration} s per run, median of {rounds} interleaved rounds")
    out.append("")
    out.append("| scenario | server / config | requests/s | p50 ms | p99 ms | errors | CPU µs/req | machine CPU µs/req "
               "| wrk CPU % | RSS/worker MB | RSS total MB | × Kestrel | × nginx |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in scenarios:
        kes = med((s, "Kestrel"), "rps")
        for sc, srv in order:
            if sc != s:
                continue
            key = (sc, srv)
            rps, ngx = med(key, "rps"), med((s, nginx_peer(med, s, srv)), "rps")
            rk = f"{rps / kes:.2f}" if rps and kes else "-"
            rn = f"{rps / ngx:.2f}" if rps and ngx else "-"
            out.append(f"| {titles.get(s, s)} | {srv} | {fnum(rps)} | {fnum(med(key, 'p50'), '{:.2f}')} "
                       f"| {fnum(med(key, 'p99'), '{:.2f}')} | {tot(key, 'errors')} | {fnum(med(key, 'cpu_us'), '{:.1f}')} "
                       f"| {fnum(med(key, 'machine_us'), '{:.1f}')} | {fnum(med(key, 'client_cpu'))} | {mb(med(key, 'rss_worker'))} "
                       f"| {mb(med(key, 'rss_total'))} | {rk} | {rn} |")
    out.append("")
    out.append("errors: wrk socket errors (connect/read/write/timeout) + non-2xx/3xx responses, summed over the rounds. "
               "RSS: VmRSS from /proc right after the run; 'total' is the master plus all its children; "
               "'per worker' is the children's average (Kestrel: its one process). "
               "CPU µs/req: user + system time of the server's whole process tree (from /proc) over the run, "
               "divided by the requests wrk counted. "
               "machine CPU µs/req: the busy time of every core (from /proc/stat: server, wrk, kernel) over the same "
               "run, divided the same way; on loopback the sender's kernel does much of the receiver's work (the "
               "packets are delivered in the sending process's softirq), so a server that sends faster is charged "
               "more of wrk's side: for a large file the whole machine's cost is the fairer measure. "
               "wrk CPU %: the client's own user + system time over the run, in % of one core; near 100 it is the "
               "bottleneck, and its p99 then includes the time responses wait in its sockets (the paced rows keep it below). "
               "Ratios: median requests/s over Kestrel's / nginx's in the same scenario and run; × nginx is against "
               "nginx with as many workers where the run measured it (nginx 4w for 4 workers), else nginx 2w. "
               "Prefork is the build people deploy: dotnet publish, a NativeAOT master and workers; "
               "Kestrel is a framework-dependent (JIT) build, as a minimal API is usually deployed. "
               "ASP.NET Core app: one App.dll (scripts/bench/aspnet on `dotnet new web`, Release), run by `dotnet App.dll` "
               "on Kestrel alone (one process on every core) and under the Prefork master (`--app App.dll`, a process "
               "per worker); its × Kestrel is against that Kestrel row.")
    out.append("")

    app_idle = sorted(x for x in ex if x.startswith("appidle."))
    if app_idle:
        out.append("#### ASP.NET Core app: RSS per app process (MB, VmRSS; Prefork: largest worker)")
        out.append("")
        out.append("| config | app process after start | app process after load | Prefork master after start |")
        out.append("|---|---:|---:|---:|")
        for k in app_idle:
            d = kv(ex[k])
            m0, w0, m1, w1 = (int(d[f]) for f in ("m0", "w0", "m1", "w1"))
            # Kestrel is the one process it started; under Prefork the app's processes are the master's children.
            prefork = w0 > 0
            out.append(f"| {k[8:].replace('_', ' ')} | {mb(w0 if prefork else m0)} | {mb(w1 if prefork else m1)} "
                       f"| {mb(m0) if prefork else '-'} |")
        out.append("")

    # Idle RSS
    idle = sorted(x for x in ex if x.startswith("idle."))
    if idle:
        out.append("#### Idle RSS (MB, VmRSS; worker = largest worker)")
        out.append("")
        out.append("| config | master after start | worker after start | master after load | worker after load |")
        out.append("|---|---:|---:|---:|---:|")
    worst_w = worst_m = None
    for k in idle:
        d = kv(ex[k])
        vals = [int(d[f]) for f in ("m0", "w0", "m1", "w1")]
        out.append(f"| {k[5:].replace('_', ' ')} | {mb(vals[0])} | {mb(vals[1])} | {mb(vals[2])} | {mb(vals[3])} |")
        worst_m = max(worst_m or 0, vals[0], vals[2])
        worst_w = max(worst_w or 0, vals[1], vals[3])
    out.append("")

    kill = kv(ex.get("kill", ""))
    hold_ = kv(ex.get("hold", ""))
    spread = ex.get("spread", "").split()
    if ex.get("kill"):
        out.append(f"Worker SIGKILL → replacement (Prefork async, {ex.get('kill.workers', '?')} workers, "
                   f"{kill.get('trials', '?')} kills, median): master logs `ready` after **{kill.get('ready_median_ms', '-')} ms**; "
                   f"a GET /worker (Connection: close) is first served by the new pid after **{kill.get('served_median_ms', '-')} ms** "
                   f"(seen in {kill.get('served_n', '?')} of {kill.get('trials', '?')}).")
        out.append("")
    if len(spread) >= 4:
        out.append(f"Spread over workers (Prefork async, {ex.get('spread.workers', '?')} workers, wrk -c64 keep-alive on /worker, "
                   f"{duration} s): requests per worker {spread[4] if len(spread) > 4 else '-'}; max/min = **{spread[3]}**.")
        out.append("")
    for key, what in (("hold", "Prefork async"), ("hold.nginx", "nginx"), ("holdbig", "Prefork async"),
                      ("holdbig.nginx", "nginx")):
        h = kv(ex.get(key, ""))
        if h:
            out.append(f"Idle keep-alive connections ({what}, {h.get('workers', 2)} workers, {h.get('procs', 1)} client process(es)): "
                       f"{h.get('first_ok')} of {h.get('conns')} opened and answered, after {h.get('waited_s')} s idle "
                       f"**{h.get('second_ok')} of {h.get('conns')}** answered again; total RSS while holding them "
                       f"**{mb(int(h.get('rss_total_kb', 0)))} MB** (master {mb(int(h.get('rss_master_kb', 0)))} MB), "
                       f"growth **{h.get('per_conn_bytes', '-')} bytes per connection**; client errors: {h.get('errors')}.")
            out.append("")

    # Targets
    out.append("#### Targets")
    out.append("")
    out.append("| target | measured | |")
    out.append("|---|---|---|")
    kes = med(("keepalive", "Kestrel"), "rps")
    kes99 = med(("keepalive", "Kestrel"), "p99")
    for sc, srv in order:
        if sc != "keepalive" or not srv.startswith("Prefork async"):
            continue
        rps, p99 = med((sc, srv), "rps"), med((sc, srv), "p99")
        peer = nginx_peer(med, sc, srv)
        ngx = med((sc, peer), "rps")
        if rps and kes:
            out.append(f"| {srv}: keep-alive req/s ≥ 1.2× Kestrel | {rps / kes:.2f}× | {mark(rps >= 1.2 * kes)} |")
        if rps and ngx:
            out.append(f"| {srv}: keep-alive req/s ≥ 0.9× {peer} | {rps / ngx:.2f}× | {mark(rps >= 0.9 * ngx)} |")
        if p99 is not None and kes99 is not None:
            out.append(f"| {srv}: p99 ≤ Kestrel's | {p99:.2f} ms vs {kes99:.2f} ms | {mark(p99 <= kes99)} |")
    targets_vs_peers(out, order, med, tot)
    paced_p99(out, order, med, "paced", "Prefork async", ("nginx", "Kestrel"), "keep-alive /hello")
    paced_p99(out, order, med, "aspnet-paced", "Prefork app", ("Kestrel",), "ASP.NET Core app GET /hello")
    for s in ("aspnet-hello", "aspnet-json"):
        kes, kes99 = med((s, "Kestrel"), "rps"), med((s, "Kestrel"), "p99")
        for sc, srv in order:
            if sc != s or not srv.startswith("Prefork app"):
                continue
            rps, p99 = med((sc, srv), "rps"), med((sc, srv), "p99")
            what = f"{srv}, ASP.NET Core app GET /{s[len('aspnet-'):]}"
            if rps and kes:
                out.append(f"| {what}: req/s ≥ 1.2× Kestrel | {rps / kes:.2f}× | {mark(rps >= 1.2 * kes)} |")
            if p99 is not None and kes99 is not None:
                out.append(f"| {what}: p99 ≤ Kestrel's | {p99:.2f} ms vs {kes99:.2f} ms | {mark(p99 <= kes99)} |")
    if worst_w is not None:
        out.append(f"| idle worker ≤ 20 MB RSS (worst, all Prefork configs, before/after load) | {mb(worst_w)} MB | "
                   f"{mark(worst_w <= 20 * 1024)} |")
        out.append(f"| master ≤ 30 MB RSS (worst) | {mb(worst_m)} MB | {mark(worst_m <= 30 * 1024)} |")
    if kill:
        s = kill.get("served_median_ms", "-")
        r = kill.get("ready_median_ms", "-")
        ok = s != "-" and float(s) <= 150 and int(kill.get("served_n", 0)) == int(kill.get("trials", -1))
        out.append(f"| kill -9 → replacement accepting ≤ 150 ms (median; served by new pid) | {s} ms (ready logged: {r} ms) | {mark(ok)} |")
    if hold_:
        ok = hold_.get("second_ok") == hold_.get("conns") and hold_.get("first_ok") == hold_.get("conns")
        out.append(f"| {hold_.get('conns')} idle keep-alive connections on 2 workers, all answered afterwards | "
                   f"{hold_.get('first_ok')} then {hold_.get('second_ok')} | {mark(ok)} |")
        per = hold_.get("per_conn_bytes", "")
        if per.isdigit():
            ngx = kv(ex.get("hold.nginx", "")).get("per_conn_bytes", "-")
            out.append(f"| memory per idle keep-alive connection ≤ 1 KB (RSS growth of master + workers) | "
                       f"{per} bytes (nginx {ngx}) | {mark(int(per) <= 1024)} |")
    big = kv(ex.get("holdbig", ""))
    if big:
        ok = big.get("second_ok") == big.get("conns") and big.get("first_ok") == big.get("conns")
        out.append(f"| {big.get('conns')} idle keep-alive connections on {big.get('workers', 2)} workers, all answered afterwards | "
                   f"{big.get('first_ok')} then {big.get('second_ok')}, {mb(int(big.get('rss_total_kb', 0)))} MB | {mark(ok)} |")
    if len(spread) >= 4:
        ok = spread[3] != "inf" and float(spread[3]) <= 1.5
        out.append(f"| requests spread over workers within 1.5× (max/min) | {spread[3]} | {mark(ok)} |")
    out.append("")
    out.append(f"Machine: {os.cpu_count()} CPUs, load average before the run {ex.get('loadavg', '?')}, after it "
               f"{ex.get('loadavg.end', '?')}; total run time {ex.get('elapsed', '?')} s.")
    out.append("")
    out.append("Command:")
    out.append("")
    out.append("```")
    out.append(command)
    out.append("```")
    print("\n".join(out))


def nginx_peer(med, scenario, srv):
    """The nginx SRV is judged against: the one with as many workers, where the run measured it, else nginx 2w.
    Four processes on two cores pay for it in the tail and per connection, nginx's as much as Prefork's."""
    same = "nginx " + srv.split()[-1]
    return same if med((scenario, same), "rps") else "nginx 2w"


def paced_p99(out, order, med, scenario, prefix, peers, what):
    """p99 when wrk is not the bottleneck (scripts/bench/paced.lua), against each peer in the same run."""
    for sc, srv in order:
        if sc != scenario or not srv.startswith(prefix):
            continue
        p99 = med((sc, srv), "p99")
        for peer in peers:
            peer = nginx_peer(med, sc, srv) if peer == "nginx" else peer
            base = med((sc, peer), "p99")
            if p99 is not None and base is not None:
                out.append(f"| {srv}, {what} paced: p99 ≤ {peer}'s | {p99:.2f} ms vs {base:.2f} ms "
                           f"| {mark(p99 <= base)} |")


def targets_vs_peers(out, order, med, tot):
    """The issue's targets against nginx and Kestrel: Connection: close, p99, static files, busy connections, POST."""
    def ratio(scenario, srv, peer, factor, what):
        rps, base = med((scenario, srv), "rps"), med((scenario, peer), "rps")
        if rps and base:
            out.append(f"| {srv}: {what} req/s ≥ {factor}× {peer} | {rps / base:.2f}× | {mark(rps >= factor * base)} |")
        return rps, base

    for sc, srv in order:
        if not srv.startswith("Prefork async"):
            continue
        if sc == "close":
            ratio(sc, srv, nginx_peer(med, sc, srv), 1.0, "`Connection: close`")
        elif sc == "keepalive":
            peer = nginx_peer(med, sc, srv)
            p99, n99 = med((sc, srv), "p99"), med((sc, peer), "p99")
            if p99 is not None and n99 is not None:
                out.append(f"| {srv}: keep-alive p99 ≤ {peer}'s | {p99:.2f} ms vs {n99:.2f} ms | {mark(p99 <= n99)} |")
        elif sc.startswith("static-"):
            rps, base = ratio(sc, srv, "nginx 2w", 1.0, f"static {sc[7:].upper()}B file")
            for field, whose in (("cpu_us", "server's"), ("machine_us", "machine's")):
                cpu, ncpu = med((sc, srv), field), med((sc, "nginx 2w"), field)
                if cpu is not None and ncpu is not None:
                    out.append(f"| {srv}: static {sc[7:].upper()}B file, the {whose} CPU per request ≤ nginx's | "
                               f"{cpu:.1f} µs vs {ncpu:.1f} µs | {mark(cpu <= ncpu)} |")
        elif sc.startswith("busy-"):
            conns = f"{int(sc[5:]):,}"
            ratio(sc, srv, "nginx 2w", 1.0, f"{conns} keep-alive clients,")
            # A run in which wrk got no answer at all is no pass either.
            errors, rps = tot((sc, srv), "errors"), med((sc, srv), "rps")
            out.append(f"| {srv}: {conns} keep-alive clients, 0 errors | {errors} errors, {fnum(rps)} req/s "
                       f"| {mark(errors == 0 and bool(rps))} |")
        elif sc.startswith("post-"):
            ratio(sc, srv, "Kestrel", 1.2, f"POST /echo {sc[5:].upper()}B,")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"rss": cmd_rss, "cpu": cmd_cpu, "machinecpu": cmd_machinecpu, "tree": cmd_tree, "alive": cmd_alive, "freeport": cmd_freeport, "killtest": cmd_killtest, "hold": cmd_hold,
     "spread": cmd_spread, "report": cmd_report}[cmd](args)


if __name__ == "__main__":
    main()
