#!/usr/bin/env python3
"""Process helpers for scripts/chaos.sh (standard library only; /proc parsing comes from scripts/bench/tools.py).
A process is named by "pid starttime" (field 22 of /proc/PID/stat), so a pid reused later is never taken for it.

  procs.py start PID                    PID's start time
  procs.py wait --pid P [--log F --pattern RE [--count N]] --bound S
                                        wait until F holds N lines matching RE ("matched"), P is gone ("gone"),
                                        or S seconds passed ("timeout"); prints which; exit 0 for "matched", or
                                        for "gone" when there is no pattern
  procs.py orphans --log F --since T --bound S [--kill]
                                        wait up to S seconds for every worker F logged ("Booting worker N with pid
                                        P") to be gone; prints the pids still running (started at or after T), and
                                        with --kill, SIGKILLs them
  procs.py refused --bound S [--parallel N] -- PROGRAM <CASES
                                        run PROGRAM with each line of CASES (shell words) as its arguments, N at a
                                        time, each a command line that must be refused; prints one line per case:
                                        "exit CODE LINES FIRSTLINE" when it exits within S seconds, else "started"
                                        (then it is killed, with the workers it spawned or logged)
  procs.py killworkers --master M --port P --log F --kills N --every S
                                        every S seconds, SIGKILL one of M's workers (counting the connections it
                                        held on port P first) and wait for its replacement to be ready (F);
                                        prints "kills=N held=H"
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from tools import descendants, opt, starttime, worker_pids  # noqa: E402

BOOTED = re.compile(r"Booting worker \d+ with pid (\d+)")
READY = re.compile(r" ready$")


def state(pid):
    """The process state letter (R, S, Z, ...), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2:].split()[0]
    except (OSError, ValueError, IndexError):
        return None


def alive(pid, start):
    return state(pid) not in (None, "Z", "X") and starttime(pid) == start


def tree(pid):
    """PID's descendants as (pid, starttime) pairs."""
    return [(p, st) for p, st in ((p, starttime(p)) for p in descendants(pid)) if st]


def count_lines(path, pattern):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if pattern.search(line))
    except OSError:
        return 0


def cmd_wait(args):
    pid, bound = opt(args, "--pid", conv=int), opt(args, "--bound", conv=float)
    log = opt(args, "--log", "")
    pattern = re.compile(opt(args, "--pattern")) if log else None
    count = opt(args, "--count", 1, int)
    start = starttime(pid)
    deadline = time.monotonic() + bound
    while True:
        if pattern is not None and count_lines(log, pattern) >= count:
            print("matched")
            sys.exit(0)
        if start is None or not alive(pid, start):
            print("gone")
            sys.exit(1 if pattern is not None else 0)
        if time.monotonic() >= deadline:
            print("timeout")
            sys.exit(1)
        time.sleep(0.02)


def until_gone(pids_alive, bound):
    """Polls PIDS_ALIVE() (the pids still running) until it is empty or BOUND seconds passed; returns the last."""
    deadline = time.monotonic() + bound
    while True:
        left = pids_alive()
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def kill_all(pids):
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def is_worker(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"Prefork.Worker" in f.read()
    except OSError:
        return False


def logged_workers(log, since, bound):
    with open(log, errors="replace") as f:
        logged = {int(m.group(1)) for m in BOOTED.finditer(f.read())}
    return until_gone(lambda: sorted(p for p in logged if state(p) not in (None, "Z", "X") and is_worker(p)
                                     and int(starttime(p) or 0) >= since), bound)


def cmd_orphans(args):
    left = logged_workers(opt(args, "--log"), opt(args, "--since", conv=int), opt(args, "--bound", conv=float))
    if "--kill" in args:
        kill_all(left)
    print(*left)


class Attempt:
    """One run of a command line that must be refused, its output in a temporary file."""

    LISTENING = re.compile("Listening at")

    def __init__(self, argv, bound):
        self.out = tempfile.NamedTemporaryFile("w+", errors="replace")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT)
        self.since = int(starttime(self.proc.pid) or 0)
        self.deadline = time.monotonic() + bound

    def poll(self):
        """"exit CODE LINES FIRSTLINE" once it exited, "started" once it listens or its time is up, else None."""
        if self.proc.poll() is not None:
            with open(self.out.name, errors="replace") as f:
                lines = [line.rstrip("\n") for line in f if line.strip()]
            self.out.close()
            return f"exit {self.proc.returncode} {len(lines)} {lines[0] if lines else ''}"
        if count_lines(self.out.name, self.LISTENING) == 0 and time.monotonic() < self.deadline:
            return None
        # It started, as it should not have: no grace; it goes, and every worker it spawned or logged.
        kids = tree(self.proc.pid)
        self.proc.kill()
        self.proc.wait()
        kill_all(p for p, st in kids if alive(p, st))
        kill_all(logged_workers(self.out.name, self.since, 0))
        self.out.close()
        return "started"


def cmd_refused(args):
    bound, parallel = opt(args, "--bound", conv=float), opt(args, "--parallel", 8, int)
    program = args[args.index("--") + 1:]
    cases = [shlex.split(line) for line in sys.stdin if line.strip()]
    results, pending, running = [None] * len(cases), list(enumerate(cases)), {}
    while pending or running:
        while pending and len(running) < parallel:
            i, case = pending.pop(0)
            running[i] = Attempt(program + case, bound)
        for i, attempt in list(running.items()):
            results[i] = attempt.poll()
            if results[i] is not None:
                del running[i]
        time.sleep(0.02)
    print(*results, sep="\n")


def established_inodes(port):
    """Socket inodes of ESTABLISHED TCP connections whose local port is PORT (/proc/net/tcp and tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "01" and int(p[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(p[9])
        except OSError:
            pass
    return inodes


def connections_held(pid, port):
    inodes, held = established_inodes(port), 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                held += 1
    except OSError:
        pass
    return held


def cmd_killworkers(args):
    master, port, log = opt(args, "--master", conv=int), opt(args, "--port", conv=int), opt(args, "--log")
    kills, every = opt(args, "--kills", conv=int), opt(args, "--every", conv=float)
    t0, done, held = time.monotonic(), 0, 0
    for k in range(kills):
        time.sleep(max(0.0, t0 + (k + 1) * every - time.monotonic()))
        workers = worker_pids(master)
        if not workers:
            print("procs.py: no worker to kill", file=sys.stderr)
            break
        victim, ready = workers[0], count_lines(log, READY)
        held += connections_held(victim, port)
        os.kill(victim, signal.SIGKILL)
        done += 1
        deadline = time.monotonic() + 5
        while count_lines(log, READY) <= ready and time.monotonic() < deadline:
            time.sleep(0.02)
    print(f"kills={done} held={held}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "start":
        print(starttime(int(args[0])) or "")
    else:
        commands = {"wait": cmd_wait, "orphans": cmd_orphans, "refused": cmd_refused, "killworkers": cmd_killworkers}
        if cmd not in commands:
            sys.exit(__doc__)
        commands[cmd](args)


if __name__ == "__main__":
    main()
