#!/usr/bin/env python3
"""httpok against superlance's httpok, side by side, in one run (issue 4).

    bench.py --httpok target/release/httpok --superlance .venv/bin/httpok [--quick]
             [--out docs/benchmarks.md] [--command "scripts/bench.sh"]
    bench.py serve PORT       (internal: the many-paths app of the scale benchmark)

Run it with the project's .venv python (it imports supervisor's XML-RPC transport);
scripts/bench.sh does that. It starts its own supervisord in a fresh dir under /tmp,
talks to loopback only, and every loop in it is bounded by a count or a deadline.

What it measures, for both tools (see docs/benchmarks.md for the method):
  footprint  VmRSS and CPU (utime+stime) of a listener after 20 healthy rounds
  round      wall time of one healthy round (TICK written -> RESULT read), and CPU per round
  recover    SIGSTOP the app -> a new pid RUNNING, under supervisord on TICK_5
  scale      one httpok with 10/100/1000/10000 checks, 10% hanging, -t 2; superlance: N processes

The results go to stdout as markdown and, with --out, between the markers
`<!-- bench:begin -->` and `<!-- bench:end -->` of that file.
"""
import argparse
import asyncio
import importlib.metadata
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEBAPP = os.path.join(ROOT, "tests", "apps", "webapp.py")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TICK_PERIOD = 5
TIMEOUT = 2  # -t for every listener; stopwaitsecs of the app in the recovery run
READ_DEADLINE = 30.0  # longest wait for one answer from a listener
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(desc, deadline_s, pred, interval=0.05):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError("timed out waiting for " + desc)


# ------------------------------------------------------------------ /proc readings

def proc_status(pid, field):
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def proc_cpu(pid):
    """utime+stime of the whole process (all threads, live and exited), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_cpu_fine(pid):
    """CPU time of the live threads in seconds, to the nanosecond (/proc/PID/task/*/schedstat);
    /proc/PID/stat counts in 10 ms ticks, too coarse for a few rounds of httpok."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def proc_pss(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def proc_threads(pid):
    return proc_status(pid, "Threads")


# ------------------------------------------------------------------ the listener side

class Listener:
    """One listener process whose stdin/stdout the harness holds: it plays supervisord."""

    def __init__(self, argv, env, stderr_path):
        self.stderr = open(stderr_path, "ab")
        started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, bufsize=0)
        self.pid = self.proc.pid
        self.serial = 0
        self.buf = b""
        self.expect(b"READY\n")
        self.startup = time.perf_counter() - started

    def expect(self, token):
        """Reads until `token` is the next thing on stdout; anything else is an error."""
        deadline = time.monotonic() + READ_DEADLINE
        fd = self.proc.stdout.fileno()
        while len(self.buf) < len(token):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError("pid %d: no %r within %ss" % (self.pid, token, READ_DEADLINE))
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("pid %d exited; stdout so far %r" % (self.pid, self.buf))
            self.buf += chunk
        if not self.buf.startswith(token):
            raise RuntimeError("pid %d: expected %r, got %r" % (self.pid, token, self.buf))
        self.buf = self.buf[len(token):]

    def send_tick(self):
        """Writes one TICK_5 whose `when` is 5 s after the last one's, as supervisord's
        are (httpok runs one round per tick boundary and, of the ticks that queued during
        a long round, only the newest)."""
        self.serial += 1
        payload = "when:%d" % (int(time.time()) + 5 * self.serial)
        header = ("ver:3.0 server:supervisor serial:%d pool:httpok poolserial:%d "
                  "eventname:TICK_5 len:%d\n" % (self.serial, self.serial, len(payload)))
        self.proc.stdin.write((header + payload).encode())

    def finish_tick(self):
        self.expect(b"RESULT 2\nOK")
        done = time.perf_counter()
        self.expect(b"READY\n")
        return done

    def tick(self):
        """One round: seconds from the TICK written to the RESULT read."""
        started = time.perf_counter()
        self.send_tick()
        return self.finish_tick() - started

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


# ------------------------------------------------------------------ supervisord

class SupervisordProcess:
    """A supervisord of the harness's own, in tmp, on a unix socket; both benchmarks'
    rigs are one (this file's and bench/prefork.py's)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "s.sock")
        self.url = "unix://" + self.sock
        self.conf = os.path.join(tmp, "supervisord.conf")

    def conf_head(self):
        """The sections every rig's supervisord.conf starts with."""
        tmp = self.tmp
        return [
            "[unix_http_server]", "file=%s" % self.sock, "",
            "[supervisord]", "nodaemon=true", "logfile=%s/supervisord.log" % tmp,
            "pidfile=%s/supervisord.pid" % tmp, "childlogdir=%s" % tmp, "user=root", "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
        ]

    def start(self, python, conf_lines):
        """Writes the conf, starts supervisord from python's bin/, waits for it to answer."""
        with open(self.conf, "w") as f:
            f.write("\n".join(conf_lines))
        supervisord = os.path.join(os.path.dirname(python), "supervisord")
        self.out = open(os.path.join(self.tmp, "supervisord.stdout"), "wb")
        self.proc = subprocess.Popen([supervisord, "-c", self.conf], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        wait_until("supervisord to answer", 30, self._answers, 0.2)

    def rpc(self):
        return xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=SupervisorTransport(None, None, self.url)).supervisor

    def _answers(self):
        try:
            return self.rpc().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


class Supervisord(SupervisordProcess):
    def __init__(self, tmp, python, httpok, superlance, web_port):
        super().__init__(tmp)
        self.web_log = os.path.join(tmp, "web.err")
        recover_url = "http://127.0.0.1:%d/recover" % web_port
        listener = ("[eventlistener:{name}]\ncommand={cmd} -p web -t %d %s\n"
                    "events=TICK_5\nautostart=false\nautorestart=true\n"
                    "stdout_logfile={tmp}/{name}.out\nstderr_logfile={tmp}/{name}.err\n"
                    % (TIMEOUT, recover_url))
        self.start(python, self.conf_head() + [
            "[program:web]",
            "command=%s %s --port %d --mode ok" % (python, WEBAPP, web_port),
            "startsecs=1", "stopwaitsecs=%d" % TIMEOUT, "autorestart=true",
            "stdout_logfile=%s/web.out" % tmp, "stderr_logfile=%s" % self.web_log,
            "stderr_logfile_maxbytes=0", "",
            listener.format(name="httpok_rs", cmd=httpok, tmp=tmp),
            listener.format(name="httpok_py", cmd=superlance, tmp=tmp),
        ])
        self.wait_running("web")

    def info(self, name):
        return self.rpc().getProcessInfo(name)

    def wait_running(self, name, deadline_s=30):
        return wait_until(name + " RUNNING", deadline_s,
                          lambda: (lambda i: i if i["statename"] == "RUNNING" else None)(
                              self.info(name)), 0.1)

    def web_requests(self, path):
        """How many requests the app logged for `path` (checks that each tick made a probe)."""
        needle = "GET %s mode" % path
        with open(self.web_log, errors="replace") as f:
            return sum(1 for line in f if needle in line)


# ------------------------------------------------------------------ the benchmarks

def footprint_and_rounds(tool, argv, env, sup, path, rounds):
    """Footprint after 20 rounds, then `rounds` timed healthy rounds on the same process."""
    before = sup.web_requests(path)
    lst = Listener(argv, env, os.path.join(sup.tmp, "%s-rounds.err" % tool))
    try:
        for _ in range(20):
            lst.tick()
        result = {
            "startup": lst.startup,
            "rss20": proc_status(lst.pid, "VmRSS"),
            "anon20": proc_status(lst.pid, "RssAnon"),
            "cpu20": proc_cpu_fine(lst.pid),
        }
        ticks20 = proc_cpu(lst.pid)
        times = [lst.tick() for _ in range(rounds)]
        result["cpu_round"] = (proc_cpu(lst.pid) - ticks20) / rounds
        result["rss_end"] = proc_status(lst.pid, "VmRSS")
    finally:
        lst.close()
    times.sort()
    result["median"] = statistics.median(times)
    result["p99"] = p99(times)
    result["rounds"] = rounds
    # Each tick must have made exactly one probe: no tick silently dropped.
    probes = wait_until("the app's log to catch up", 10,
                        lambda: (lambda n: n if n >= 20 + rounds else None)(
                            sup.web_requests(path) - before), 0.2)
    if probes != 20 + rounds:
        raise RuntimeError("%s: %d ticks but %d probes" % (tool, 20 + rounds, probes))
    log("%s: footprint %d kB, %.3fs CPU; round median %.2f ms, p99 %.2f ms, CPU %.3f ms"
        % (tool, result["rss20"], result["cpu20"], result["median"] * 1e3,
           result["p99"] * 1e3, result["cpu_round"] * 1e3))
    return result


def p99(times):
    times = sorted(times)
    return times[min(len(times) - 1, int(round(0.99 * len(times))) - 1)]


def rounds_only(tool, argv, env, sup, rounds):
    """Healthy rounds against the minimal app: the tool's own cost, with little app time."""
    lst = Listener(argv, env, os.path.join(sup.tmp, "%s-minimal.err" % tool))
    try:
        for _ in range(20):
            lst.tick()
        times = [lst.tick() for _ in range(rounds)]
    finally:
        lst.close()
    log("%s: minimal app round median %.2f ms" % (tool, statistics.median(times) * 1e3))
    return {"median": statistics.median(times), "p99": p99(times)}


def hang_rounds(tool, argv, env, sup, rounds, metrics_port=None):
    """Rounds against a URL that never answers: how late after -t each tool gives up.
    With `metrics_port` (httpok's --metrics-listen), also what the probe's
    probe_duration_seconds said after each round."""
    lst = Listener(argv, env, os.path.join(sup.tmp, "%s-hang.err" % tool))
    durations = []
    try:
        times = []
        for _ in range(rounds):
            times.append(lst.tick())
            if metrics_port:
                durations.append(probe_duration(metrics_port))
    finally:
        lst.close()
    log("%s: hanging URL round median %.3f s, probe_duration_seconds %s"
        % (tool, statistics.median(times), durations))
    return {"median": statistics.median(times), "max": max(times), "durations": durations}


def probe_duration(port):
    """probe_duration_seconds of the one target on httpok's /metrics."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        page = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            page += chunk
    found = re.search(rb"^probe_duration_seconds\{[^}]*\} ([0-9.eE+-]+)$", page, re.M)
    if not found:
        raise RuntimeError("no probe_duration_seconds on /metrics: %r" % page[:2000])
    return float(found.group(1))


def raw_get(port, path, count):
    """Median time for a bare socket client to GET `path` and read the whole reply (not
    waiting for the close): about the app's share of a round."""
    request = ("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request)
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += s.recv(65536)
            head, body = reply.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += s.recv(65536)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def recover(tool, sup, tries):
    """SIGSTOP the app at a fixed phase of the 5 s tick; time until a new pid is RUNNING."""
    name = "httpok_" + tool
    rpc = sup.rpc()
    rpc.startProcess(name)
    sup.wait_running(name)
    results, phases = [], []
    try:
        for attempt in range(tries):
            old = sup.wait_running("web")["pid"]
            # Freeze 2 s after a tick boundary (after that tick's round, which is healthy),
            # at least one full tick after the previous recovery, so every try waits the
            # same ~3 s for the next tick.
            now = time.time()
            at = now - now % TICK_PERIOD + 2.0
            while at < now + TICK_PERIOD:
                at += TICK_PERIOD
            time.sleep(at - time.time())
            os.kill(old, signal.SIGSTOP)
            frozen = time.perf_counter()
            seen = {}  # state -> seconds after the freeze it was first seen
            try:
                # Polling every 20 ms also keeps supervisord's loop awake, so its ticks
                # go out on time rather than up to 1 s late.
                deadline = frozen + 60
                while True:
                    info = sup.info("web")
                    now = time.perf_counter() - frozen
                    if info["pid"] != old or info["statename"] != "RUNNING":
                        seen.setdefault(info["statename"], now)
                    if info["statename"] == "RUNNING" and info["pid"] != old:
                        took = now
                        break
                    if time.perf_counter() > deadline:
                        raise RuntimeError("%s: web not restarted within 60 s" % tool)
                    time.sleep(0.02)
            finally:
                try:
                    os.kill(old, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            results.append(took)
            phases.append(seen)
            log("%s: recovery %d/%d took %.2fs (%s)" % (tool, attempt + 1, tries, took, ", ".join(
                "%s at %.2f" % kv for kv in sorted(seen.items(), key=lambda kv: kv[1]))))
    finally:
        rpc.stopProcess(name)
    stopping = [p["STOPPING"] for p in phases if "STOPPING" in p]
    starting = [p["STARTING"] for p in phases if "STARTING" in p]
    return {"median": statistics.median(results), "all": results,
            "stopping": statistics.median(stopping) if stopping else float("nan"),
            "starting": statistics.median(starting) if starting else float("nan")}


async def serve_paths(port):
    """/ok/* answers 200 at once; /hang/* reads the request and never answers."""
    async def handle(reader, writer):
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            if request.split(b" ", 2)[1].startswith(b"/hang"):
                while await reader.read(4096):
                    pass
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                             b"Connection: close\r\n\r\nOK\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def serve_minimal(port):
    """The minimal app: one connection at a time, answers 200 as soon as the request head
    is in. Nothing between the probe and its answer but the kernel and a few lines."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nOK\n"
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(128)
    while True:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(10)
            request = b""
            try:
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                conn.sendall(reply)
            except OSError:
                pass


def scale_urls(port, n):
    """n URLs on the many-paths app; every 10th (i % 10 == 0) hangs."""
    return ["http://127.0.0.1:%d/%s/%d" % (port, "hang" if i % 10 == 0 else "ok", i)
            for i in range(n)]


def scale_httpok(httpok, env, sup, port, n, rounds):
    # Each check names its own program (appN); none exists, so a failing check logs
    # "did not exist" and restarts nothing, and the app stays the same across rounds.
    argv = [httpok, "-t", str(TIMEOUT)]
    for i, url in enumerate(scale_urls(port, n)):
        argv += ["--check", "app%d=%s" % (i, url)]
    lst = Listener(argv, env, os.path.join(sup.tmp, "rs-scale-%d.err" % n))
    try:
        cpu0 = proc_cpu(lst.pid)
        times = [lst.tick() for _ in range(rounds)]
        result = {
            "median": statistics.median(times),
            "max": max(times),
            "rss": proc_status(lst.pid, "VmRSS"),
            "hwm": proc_status(lst.pid, "VmHWM"),
            "cpu_round": (proc_cpu(lst.pid) - cpu0) / rounds,
        }
    finally:
        lst.close()
    log("rs scale %d: round median %.2fs max %.2fs, RSS %d kB, peak %d kB"
        % (n, result["median"], result["max"], result["rss"], result["hwm"]))
    return result


def scale_superlance(superlance, env, sup, port, n, rounds):
    """n superlance listeners, one URL each, ticked together; a round ends at the last RESULT."""
    listeners = []
    try:
        for i, url in enumerate(scale_urls(port, n)):
            listeners.append(Listener([superlance, "-p", "app%d" % i, "-t", str(TIMEOUT), url],
                                      env, os.path.join(sup.tmp, "py-scale-%d.err" % i)))
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            for lst in listeners:
                lst.send_tick()
            times.append(max(lst.finish_tick() for lst in listeners) - started)
        rss = [proc_status(l.pid, "VmRSS") for l in listeners]
        result = {
            "median": statistics.median(times),
            "max": max(times),
            "rss": sum(rss),
            "rss_each": sum(rss) / n,
            "pss": sum(proc_pss(l.pid) for l in listeners),
        }
    finally:
        for lst in listeners:
            lst.close()
    log("py scale %d: round median %.2fs, RSS total %d kB (PSS %d kB)"
        % (n, result["median"], result["rss"], result["pss"]))
    return result


# ------------------------------------------------------------------ report

def machine():
    cpus = os.cpu_count()
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return "%d cores (%s), %.1f GiB memory, Linux %s" % (cpus, model, mem_kb / 1048576,
                                                        platform.release())


def versions(httpok):
    out = subprocess.run([httpok, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "httpok": out or "unknown",
        "superlance": importlib.metadata.version("superlance"),
        "supervisor": importlib.metadata.version("supervisor"),
        "python": platform.python_version(),
        "size": os.path.getsize(httpok),
    }


def ms(s):
    return "%.2f ms" % (s * 1e3)


def mb(kb):
    return "%.1f MB" % (kb / 1024)


def ratio(rs, py):
    if rs <= 0:
        return "n/a"
    return "1/%.1f" % (py / rs) if py >= rs else "%.1fx" % (rs / py)


def verdict(ok):
    return "met" if ok else "**missed**"


def report(args, ver, fp, minimal, floor, hang, rec, scale, load, elapsed):
    rs, py = fp["rs"], fp["py"]
    lines = []
    add = lines.append

    def row(figure, a, b, r):
        add("| %s | %s | %s | %s |" % (figure, a, b, r))

    add("Measured %s by `%s` in %.0f s; load average %.1f at the start, %.1f at the end."
        % (time.strftime("%Y-%m-%d"), args.command, elapsed, load[0], load[-1]))
    add("")
    add("* Machine: %s" % machine())
    add("* httpok: %s, release build, %d bytes (`ls -l target/release/httpok`)"
        % (ver["httpok"], ver["size"]))
    add("* superlance %s, supervisor %s, Python %s"
        % (ver["superlance"], ver["supervisor"], ver["python"]))
    add("")
    add("| figure | httpok | superlance | httpok / superlance |")
    add("|---|---|---|---|")
    row("**One URL**, listener RSS after 20 healthy rounds", mb(rs["rss20"]), mb(py["rss20"]),
        ratio(rs["rss20"], py["rss20"]))
    row("of which anonymous memory (RssAnon: heap, stacks; the rest is shared file pages)",
        mb(rs["anon20"]), mb(py["anon20"]), ratio(rs["anon20"], py["anon20"]))
    row("RSS after %d more rounds" % rs["rounds"], mb(rs["rss_end"]), mb(py["rss_end"]),
        ratio(rs["rss_end"], py["rss_end"]))
    row("CPU time after 20 rounds, start-up included", ms(rs["cpu20"]), ms(py["cpu20"]),
        ratio(rs["cpu20"], py["cpu20"]))
    row("start to first READY", ms(rs["startup"]), ms(py["startup"]),
        ratio(rs["startup"], py["startup"]))
    row("healthy round, median wall (%d rounds, app: webapp.py)" % rs["rounds"],
        ms(rs["median"]), ms(py["median"]), ratio(rs["median"], py["median"]))
    row("healthy round, p99 wall", ms(rs["p99"]), ms(py["p99"]), ratio(rs["p99"], py["p99"]))
    row("healthy round, CPU", ms(rs["cpu_round"]), ms(py["cpu_round"]),
        ratio(rs["cpu_round"], py["cpu_round"]))
    mr, mp = minimal["rs"], minimal["py"]
    row("healthy round, median wall (app: minimal one-connection-at-a-time server)",
        ms(mr["median"]),
        ms(mp["median"]), ratio(mr["median"], mp["median"]))
    row("healthy round, p99 wall (minimal app)", ms(mr["p99"]), ms(mp["p99"]),
        ratio(mr["p99"], mp["p99"]))
    row("*for scale: a bare socket GET, webapp.py / minimal app*",
        "%s / %s" % (ms(floor["web"]), ms(floor["minimal"])), "", "")
    row("round with the URL hanging, -t %d: median of %d (how late the timeout fires)"
        % (TIMEOUT, args.scale_rounds), "%.3f s" % hang["rs"]["median"],
        "%.3f s" % hang["py"]["median"], ratio(hang["rs"]["median"], hang["py"]["median"]))
    row("the hung probe's `probe_duration_seconds`, each round", ", ".join(
        "%.3f s" % d for d in hang["rs"]["durations"]), "(no such figure)", "")
    tries = len(rec["rs"]["all"])
    row("**Time to recover**, median of %d: SIGSTOP to new pid RUNNING (TICK_5, -t %d, "
        "stopwaitsecs=%d, startsecs=1)" % (tries, TIMEOUT, TIMEOUT),
        "%.2f s" % rec["rs"]["median"], "%.2f s" % rec["py"]["median"],
        ratio(rec["rs"]["median"], rec["py"]["median"]))
    row("recovery phases, median: STOPPING / STARTING first seen",
        "%.2f s / %.2f s" % (rec["rs"]["stopping"], rec["rs"]["starting"]),
        "%.2f s / %.2f s" % (rec["py"]["stopping"], rec["py"]["starting"]), "")
    sp = scale["py"]
    for n in args.scale:
        r = scale["rs"][n]
        if n == args.superlance_n:
            py_round, py_rss = "%.2f s" % sp["median"], "%s (%d processes)" % (mb(sp["rss"]), n)
            round_ratio, rss_ratio = ratio(r["median"], sp["median"]), ratio(r["rss"], sp["rss"])
        else:
            est = sp["rss_each"] * n
            py_round = "not run"
            py_rss = "~%s (%d processes, extrapolated)" % (mb(est), n)
            round_ratio, rss_ratio = "", ratio(r["rss"], est)
        row("**%d checks**, %d hanging, -t %d: round median (max of %d)"
            % (n, n // 10, TIMEOUT, args.scale_rounds),
            "%.2f s (%.2f s)" % (r["median"], r["max"]), py_round, round_ratio)
        row("%d checks: RSS after the rounds (peak VmHWM)" % n,
            "%s (%s)" % (mb(r["rss"]), mb(r["hwm"])), py_rss, rss_ratio)
    add("")
    add("Recovery tries (s): httpok %s; superlance %s."
        % (", ".join("%.2f" % t for t in rec["rs"]["all"]),
           ", ".join("%.2f" % t for t in rec["py"]["all"])))
    add("superlance's %d listeners: %s RSS each on average; their summed PSS (shared pages "
        "counted once) is %s. Larger N is extrapolated linearly from the %d measured."
        % (args.superlance_n, mb(sp["rss_each"]), mb(sp["pss"]), args.superlance_n))
    add("")
    add("| target (issue 4) | status |")
    add("|---|---|")
    add("| RSS at most 1/6 of superlance's, one URL | %s (%s) |"
        % (verdict(rs["rss20"] * 6 <= py["rss20"]), ratio(rs["rss20"], py["rss20"])))
    add("| healthy round at most 1/5 of superlance's wall time | %s with webapp.py (%s); "
        "%s with the minimal app (1/%.2f) |"
        % (verdict(rs["median"] * 5 <= py["median"]), ratio(rs["median"], py["median"]),
           verdict(mr["median"] * 5 <= mp["median"]), mp["median"] / mr["median"]))
    add("| healthy round at most 1/5 of superlance's CPU | %s (%s) |"
        % (verdict(rs["cpu_round"] * 5 <= py["cpu_round"]),
           ratio(rs["cpu_round"], py["cpu_round"])))
    late = rec["rs"]["median"] - rec["py"]["median"]
    add("| time to recover no worse than superlance's | %s (%.2f s vs %.2f s%s) |"
        % (verdict(late <= 0), rec["rs"]["median"], rec["py"]["median"],
           ", %.0f ms later" % (late * 1e3) if late > 0 else ""))
    if 1000 in scale["rs"]:
        r = scale["rs"][1000]
        add("| 1000 checks, 100 hanging, -t 2: round under 3 s | %s (slowest %.2f s) |"
            % (verdict(r["max"] < 3.0), r["max"]))
    add("")
    add("| target (issue 18) | status |")
    add("|---|---|")
    late = max(hang["rs"]["max"], max(hang["rs"]["durations"])) - TIMEOUT
    add("| a hung probe gives up within 50 ms of -t, and its probe_duration_seconds says "
        "so | %s (round and duration at most %.0f ms past -t) |"
        % (verdict(late < 0.05), late * 1e3))
    add("| RSS at most 1/6 of superlance's, one URL | %s (%s, %s against %s; the goal "
        "is %s) |" % (verdict(rs["rss20"] * 6 <= py["rss20"]), ratio(rs["rss20"], py["rss20"]),
                       mb(rs["rss20"]), mb(py["rss20"]), mb(py["rss20"] / 6)))
    for n, secs, limit_mb in ((1000, None, 25), (10000, 3.0, 64)):
        if n not in scale["rs"]:
            continue
        r = scale["rs"][n]
        if secs:
            add("| %d checks, %d hanging, -t 2: round under %.0f s | %s (slowest %.2f s) |"
                % (n, n // 10, secs, verdict(r["max"] < secs), r["max"]))
        add("| %d checks, %d hanging: RSS under %d MB | %s (peak %s) |"
            % (n, n // 10, limit_mb, verdict(r["hwm"] < limit_mb * 1024), mb(r["hwm"])))
    return "\n".join(lines) + "\n"


def write_doc(path, text, begin=BEGIN, end=END):
    """Replaces what stands between the begin and end markers of the doc at path."""
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        raise RuntimeError("%s has no %s ... %s markers" % (path, begin, end))
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(head + begin + "\n" + text + end + tail)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        asyncio.run(serve_paths(int(sys.argv[2])))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "serve-minimal":
        serve_minimal(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--httpok", required=True)
    ap.add_argument("--superlance", required=True)
    ap.add_argument("--out", help="markdown file with bench markers to fill")
    ap.add_argument("--command", default="scripts/bench.sh")
    ap.add_argument("--quick", action="store_true",
                    help="fewer rounds and tries: a smoke run, not for the doc")
    args = ap.parse_args()
    args.rounds = 200 if args.quick else 1000
    args.tries = 2 if args.quick else 7
    args.scale_rounds = 2 if args.quick else 5
    args.scale = [10, 100, 1000] if args.quick else [10, 100, 1000, 10000]
    args.superlance_n = 10
    httpok = os.path.abspath(args.httpok)
    superlance = os.path.abspath(args.superlance)
    python = sys.executable
    started = time.monotonic()
    ver = versions(httpok)

    tmp = tempfile.mkdtemp(prefix="hbench", dir="/tmp")
    web_port, scale_port, minimal_port = free_port(), free_port(), free_port()
    sup = server = minimal_app = None
    try:
        sup = Supervisord(tmp, python, httpok, superlance, web_port)
        env = dict(os.environ, SUPERVISOR_SERVER_URL=sup.url)
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                    "all_proxy"):
            env.pop(var, None)
        server = subprocess.Popen([python, os.path.abspath(__file__), "serve", str(scale_port)])
        minimal_app = subprocess.Popen([python, os.path.abspath(__file__), "serve-minimal",
                                        str(minimal_port)])
        wait_until("the scale app", 10, lambda: _connects(scale_port), 0.1)
        wait_until("the minimal app", 10, lambda: _connects(minimal_port), 0.1)
        load = [os.getloadavg()[0]]
        fp, minimal = {}, {}
        for tool, cmd in (("rs", httpok), ("py", superlance)):
            path = "/rounds-" + tool
            fp[tool] = footprint_and_rounds(
                tool, [cmd, "-p", "web", "-t", str(TIMEOUT),
                       "http://127.0.0.1:%d%s" % (web_port, path)],
                env, sup, path, args.rounds)
            minimal[tool] = rounds_only(
                tool, [cmd, "-p", "web", "-t", str(TIMEOUT),
                       "http://127.0.0.1:%d/" % minimal_port],
                env, sup, args.rounds // 2)
        floor = {"web": raw_get(web_port, "/floor", 200),
                 "minimal": raw_get(minimal_port, "/", 200)}
        log("bare GET: webapp.py %.2f ms, minimal app %.2f ms"
            % (floor["web"] * 1e3, floor["minimal"] * 1e3))
        metrics_port = free_port()
        hang = {
            "rs": hang_rounds("rs", [httpok, "-p", "ghost", "-t", str(TIMEOUT),
                                     "--metrics-listen", "127.0.0.1:%d" % metrics_port,
                                     "http://127.0.0.1:%d/hang/1" % scale_port],
                              env, sup, args.scale_rounds, metrics_port),
            "py": hang_rounds("py", [superlance, "-p", "ghost", "-t", str(TIMEOUT),
                                     "http://127.0.0.1:%d/hang/1" % scale_port],
                              env, sup, args.scale_rounds),
        }
        scale = {"rs": {}}
        for n in args.scale:
            scale["rs"][n] = scale_httpok(httpok, env, sup, scale_port, n, args.scale_rounds)
        scale["py"] = scale_superlance(superlance, env, sup, scale_port, args.superlance_n,
                                       args.scale_rounds)

        rec = {tool: recover(tool, sup, args.tries) for tool in ("rs", "py")}
        load.append(os.getloadavg()[0])
    finally:
        for app in (server, minimal_app):
            if app:
                app.terminate()
                app.wait()
        if sup:
            sup.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    text = report(args, ver, fp, minimal, floor, hang, rec, scale, load,
                  time.monotonic() - started)
    sys.stdout.write(text)
    if args.out:
        write_doc(args.out, text)
        log("wrote the results into " + args.out)


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
