#!/usr/bin/env python3
"""The pre-forking case of bench.py (issue 18): a frozen app with workers, back in how long?

    prefork.py --httpok target/release/httpok --superlance .venv/bin/httpok [--tries 7]
               [--out docs/benchmarks.md]

A pre-forking app (tests/apps/prefork.py: a parent and 4 workers, stopasgroup and
killasgroup, the default stopwaitsecs=10, startsecs=1) runs under supervisord with
TICK_5. For each watcher in turn, its whole process group is frozen with SIGSTOP at a
random point of the 5 s tick cycle, and the time from the freeze until the app answers
200 again is taken, `--tries` times (median reported). The watchers:

  httpok --interval 1 -t 2 --stop-grace 1   httpok on its own clock, killing after 1 s
  httpok -t 2                               superlance's flags
  superlance httpok -t 2
  monit (set daemon 1, timeout 2 s, exec supervisorctl restart), when installed

Besides the total, each try records when supervisord first showed the old pid STOPPING
(the watcher noticed), the new one STARTING (the stop ended) and RUNNING, so the table
can say where each second goes. Uses bench.py's helpers; results between the markers
`<!-- bench:prefork:begin -->` and `<!-- bench:prefork:end -->` of --out.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (ROOT, SupervisordProcess, free_port, log, versions, wait_until,  # noqa: E402
                   write_doc)

PREFORK = os.path.join(ROOT, "tests", "apps", "prefork.py")
BEGIN, END = "<!-- bench:prefork:begin -->", "<!-- bench:prefork:end -->"
TICK_PERIOD = 5
TIMEOUT = 2
WATCHERS = [
    ("httpok_clock", "httpok `--interval 1 -t 2 --stop-grace 1`"),
    ("httpok_rs", "httpok `-t 2` (superlance's flags)"),
    ("httpok_py", "superlance httpok `-t 2`"),
    ("monit", "monit 5 (`set daemon 1`, timeout 2 s)"),
]


class Rig(SupervisordProcess):
    """supervisord with the app and the listeners (autostart=false), and monit's file."""

    def __init__(self, tmp, python, httpok, superlance, port):
        super().__init__(tmp)
        self.port = port
        url = "http://127.0.0.1:%d/" % port
        listener = ("[eventlistener:{name}]\ncommand={cmd} -p web {flags} %s\n"
                    "events=TICK_5\nautostart=false\nautorestart=true\nstopwaitsecs=30\n"
                    "stdout_logfile=%s/{name}.out\nstderr_logfile=%s/{name}.err\n"
                    % (url, tmp, tmp))
        self.start(python, self.conf_head() + [
            "[supervisorctl]", "serverurl=unix://%s" % self.sock, "",
            "[program:web]",
            "command=%s %s --port %d" % (python, PREFORK, port),
            "startsecs=1", "autorestart=true", "stopasgroup=true", "killasgroup=true",
            "stdout_logfile=%s/web.out" % tmp, "stderr_logfile=%s/web.err" % tmp, "",
            listener.format(name="httpok_clock", cmd=httpok,
                            flags="--interval 1 -t %d --stop-grace 1" % TIMEOUT),
            listener.format(name="httpok_rs", cmd=httpok, flags="-t %d" % TIMEOUT),
            listener.format(name="httpok_py", cmd=superlance, flags="-t %d" % TIMEOUT),
        ])
        bindir = os.path.dirname(python)
        self.monitrc = os.path.join(tmp, "monitrc")
        with open(self.monitrc, "w") as f:
            f.write("\n".join([
                "set daemon 1",
                "set logfile %s/monit.log" % tmp,
                "set pidfile %s/monit.pid" % tmp,
                "set idfile %s/monit.id" % tmp,
                "set statefile %s/monit.state" % tmp,
                "check host web with address 127.0.0.1",
                '    if failed port %d protocol http request "/" with timeout %d seconds'
                ' then exec "%s/supervisorctl -c %s restart web"'
                % (port, TIMEOUT, bindir, self.conf), ""]))
        os.chmod(self.monitrc, 0o600)
        self.wait_answering()

    def info(self):
        return self.rpc().getProcessInfo("web")

    def wait_answering(self):
        info = wait_until("web RUNNING", 60, lambda: (
            lambda i: i if i["statename"] == "RUNNING" else None)(self.info()), 0.1)
        wait_until("web answering", 30, lambda: get_status(self.port) == 200, 0.1)
        return info["pid"]


def get_status(port, timeout=0.3):
    """The status of GET / (0: no answer within `timeout`, refused, or broken)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            head = s.recv(64)
        parts = head.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and head.startswith(b"HTTP/") else 0
    except (OSError, ValueError):
        return 0


def group_of(pgid):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if rest[2] == str(pgid) and rest[0] != "Z":
            pids.append(int(entry))
    return pids


def start_watcher(rig, name):
    """Starts the watcher; returns how to stop it."""
    if name == "monit":
        proc = subprocess.Popen(["monit", "-I", "-c", rig.monitrc],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            proc.terminate()
            proc.wait(timeout=30)
        # monit's first cycle, and a healthy one (its state file starts fresh).
        time.sleep(3)
        return stop
    rig.rpc().startProcess(name)

    def stop_listener():
        rig.rpc().stopProcess(name)
    time.sleep(TICK_PERIOD + 1)  # a healthy round first
    return stop_listener


def one_try(rig, tool, attempt, tries):
    old = rig.wait_answering()
    members = wait_until("the parent and 4 workers", 30,
                         lambda: (lambda g: g if len(g) == 5 else None)(group_of(old)), 0.1)
    # A random point of the tick cycle (TICK_5 goes out on wall-clock multiples of 5 s),
    # at least 3 s after the app answered again, so every watcher has seen it healthy.
    now = time.time()
    at = now + 3 + random.uniform(0, TICK_PERIOD)
    time.sleep(at - time.time())
    phase = time.time() % TICK_PERIOD
    os.killpg(old, signal.SIGSTOP)
    frozen = time.perf_counter()
    seen, took = {}, None
    try:
        deadline = frozen + 90
        while True:
            elapsed = time.perf_counter() - frozen
            info = rig.info()
            state = info["statename"]
            if state != "RUNNING":
                seen.setdefault(state, elapsed)
            elif info["pid"] != old:
                seen.setdefault("RUNNING", elapsed)
            if took is None and info["pid"] not in (old, 0) and get_status(rig.port) == 200:
                took = time.perf_counter() - frozen
            if took is not None and "RUNNING" in seen:
                break
            if elapsed > 90 or time.perf_counter() > deadline:
                raise RuntimeError("%s: web not answering 90 s after the freeze" % tool)
            time.sleep(0.02)
    finally:
        for pid in members:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    left = [p for p in members if p in group_of(old)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    log("%s: %d/%d frozen at %.1fs of the tick cycle, answering after %.2fs (%s)%s" % (
        tool, attempt + 1, tries, phase, took, ", ".join(
            "%s at %.2f" % kv for kv in sorted(seen.items(), key=lambda kv: kv[1])),
        "; old group left: %s" % left if left else ""))
    return took, seen, left


def bench(rig, tool, tries):
    stop = start_watcher(rig, tool)
    results = []
    try:
        for attempt in range(tries):
            results.append(one_try(rig, tool, attempt, tries))
    finally:
        stop()
    def med(key):
        values = [s[key] for _, s, _ in results if key in s]
        return statistics.median(values) if values else float("nan")
    return {"median": statistics.median(t for t, _, _ in results),
            "all": [t for t, _, _ in results],
            "stopping": med("STOPPING"), "starting": med("STARTING"),
            "running": med("RUNNING"), "left": sum(len(l) for _, _, l in results)}


def report(res, tries, ver, elapsed):
    out = []
    out.append("Pre-forking app (a parent and 4 workers, `stopasgroup`/`killasgroup`, "
               "`stopwaitsecs=10`, `startsecs=1`) under `TICK_5`, its whole group frozen with "
               "SIGSTOP at a random point of the tick cycle; seconds from the freeze until it "
               "answers 200 again, median of %d. %s; run took %.0f s.\n" % (tries, ver, elapsed))
    out.append("| watcher | freeze to 200, median | all tries | noticed (STOPPING) | "
               "stop ended (STARTING) | new pid RUNNING | old group left |")
    out.append("|---|---|---|---|---|---|---|")
    for name, label in WATCHERS:
        r = res.get(name)
        if r is None:
            out.append("| %s | not run | | | | | |" % label)
            continue
        out.append("| %s | **%.1f s** | %s | %.1f s | %.1f s | %.1f s | %d |" % (
            label, r["median"], " ".join("%.1f" % t for t in r["all"]),
            r["stopping"], r["starting"], r["running"], r["left"]))
    fast, py = res.get("httpok_clock"), res.get("httpok_py")
    mon = res.get("monit")
    if fast and py:
        out.append("")
        out.append("httpok `--interval 1 -t 2 --stop-grace 1` against superlance: %.2f of its "
                   "time (goal: at most 1/3 = 0.33)%s." % (
                       fast["median"] / py["median"],
                       "; against monit: %.2f (goal: below 1)" % (fast["median"] / mon["median"])
                       if mon else ""))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--httpok", required=True)
    ap.add_argument("--superlance", required=True)
    ap.add_argument("--tries", type=int, default=7)
    ap.add_argument("--only", help="one watcher: " + ", ".join(n for n, _ in WATCHERS))
    ap.add_argument("--out", help="markdown file with the bench:prefork markers to fill")
    args = ap.parse_args()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="hprefork", dir="/tmp")
    rig = None
    res = {}
    try:
        rig = Rig(tmp, sys.executable, os.path.abspath(args.httpok),
                  os.path.abspath(args.superlance), free_port())
        for name, _ in WATCHERS:
            if args.only and name != args.only:
                continue
            if name == "monit" and not shutil.which("monit"):
                log("monit: not installed, skipped")
                continue
            res[name] = bench(rig, name, args.tries)
    finally:
        if rig:
            rig.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    ver = versions(os.path.abspath(args.httpok))
    ver = "%s, superlance %s, supervisor %s" % (ver["httpok"], ver["superlance"],
                                                ver["supervisor"])
    text = report(res, args.tries, ver,
                  time.monotonic() - started)
    sys.stdout.write(text)
    if args.out:
        write_doc(args.out, text, BEGIN, END)
        log("wrote the results into " + args.out)


if __name__ == "__main__":
    main()
