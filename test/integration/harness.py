"""A tiny test harness: start real supernode processes, run checks, count results."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from snclient import http

BIN = os.environ.get("SN_BIN", "build/supernode")
WRAP = os.environ.get("SN_WRAP", "")          # e.g. "valgrind --leak-check=full ..."
SLOW = 10 if WRAP.startswith("valgrind") else 1  # time scale for waits under valgrind
SANITIZED = os.environ.get("SN_SANITIZED") == "1"  # set by scripts/test for the ASan build
HERE = os.path.dirname(os.path.abspath(__file__))

results = {"passed": 0, "failed": 0, "skipped": []}

# Every temporary directory of a run (nodes' logs and state, Redis's, Chromium's...) goes under
# one, removed at the end when everything passed and kept, with its path said, when not: runs
# used to leave thousands behind in /tmp.
RUN_DIR = tempfile.mkdtemp(prefix="sn-run-")
tempfile.tempdir = RUN_DIR


def shared_tool(name):
    """A tool from the design contract's shared/tools: $SN_SHARED_TOOLS, or ../shared/tools beside
    the checkout (the layout the contract is delivered in)."""
    root = os.path.abspath(os.path.join(HERE, "../.."))
    for d in (os.environ.get("SN_SHARED_TOOLS"), os.path.join(root, "../shared/tools"), os.path.join(root, "shared/tools")):
        if d and os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return None
_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def skip(name, reason):
    """A check that cannot run here, said as such (never counted as passed)."""
    results["skipped"].append(name)
    print(f"  skip {name}: {reason}", flush=True)


def check(cond, name, detail=""):
    if cond:
        results["passed"] += 1
        print(f"  ok   {name}", flush=True)
    else:
        results["failed"] += 1
        print(f"  FAIL {name} {detail}"[:2000], flush=True)
    return cond


def wait_for(fn, timeout=10, interval=0.05):
    """Polls fn until it returns something truthy or the time is up (not a timing assertion:
    the deadline only bounds how long a broken build makes us wait)."""
    deadline = time.time() + timeout * SLOW
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(interval)


class Node:
    """One real supernode process on a free port."""

    count = 0
    live = []  # started and not stopped: run_all ends those a test left behind (it raised)

    def __init__(self, config=None, args=()):
        Node.count += 1
        self.dir = tempfile.mkdtemp(prefix="sn-test-")
        self.log_path = os.path.join(self.dir, "node.log")
        cmd = []
        if WRAP:
            cmd += WRAP.split() + [f"--log-file={self.dir}/valgrind.log"] if WRAP.startswith("valgrind") else WRAP.split()
        cmd += [BIN, "--listen", "127.0.0.1:0", "--log-level", "debug"]
        if config is not None:
            path = os.path.join(self.dir, "supernode.json")
            with open(path, "w") as f:
                json.dump(config, f)
            cmd += ["--config", path]
        cmd += list(args)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on .*:(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            raise RuntimeError(f"node did not start: {line!r}\n{open(self.log_path).read()[-3000:]}")
        self.port = int(m.group(1))
        Node.live.append(self)

    def cmd(self, body, headers=None):
        return http(self.port, "POST", "/m/cmd", body, headers)

    def stat(self, task_id=None, headers=None):
        return http(self.port, "GET", "/m/stat" + (f"/{task_id}" if task_id else ""), None, headers)

    def task(self, task_id):
        return self.stat(task_id)[1].get("task", {})

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, name="node"):
        """SIGTERM, wait, and check it exited 0 (ASan/valgrind report through the exit code)."""
        if self in Node.live:
            Node.live.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        self.log.close()
        detail = self.log_text()[-3000:]
        vg = os.path.join(self.dir, "valgrind.log")
        if os.path.exists(vg):
            detail = open(vg).read()[-4000:]
        check(rc == 0, f"{name} shut down cleanly (exit 0{', valgrind clean' if WRAP else ''})", f"rc={rc}\n{detail}")
        return rc


def _end_left_nodes():
    """A test that raised never stopped its nodes: they would run on past the suite (a node under
    valgrind was found running 25 minutes after one). SIGTERM, then SIGKILL."""
    for n in Node.live:
        if n.proc.poll() is None:
            n.proc.send_signal(signal.SIGTERM)
            try:
                n.proc.wait(timeout=10 * SLOW)
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()
        n.log.close()
    Node.live.clear()


def run_all(only=None):
    for fn in _tests:
        if only and not any(o in fn.__name__ for o in only):
            continue
        print(f"{fn.__name__}:", flush=True)
        try:
            fn()
        except Exception:
            check(False, f"{fn.__name__} raised", traceback.format_exc())
        _end_left_nodes()
    if results["skipped"]:
        print(f"{len(results['skipped'])} skipped: " + "; ".join(results["skipped"]), flush=True)
    print(f"{results['passed']} passed, {results['failed']} failed", flush=True)
    if results["failed"]:
        print(f"logs and state of this run kept in {RUN_DIR}", flush=True)
    else:
        import shutil
        shutil.rmtree(RUN_DIR, ignore_errors=True)
    return 1 if results["failed"] else 0


class Redis:
    """A real redis-server on a free loopback port, in a directory of its own."""

    def __init__(self, port=None, args=(), auth=()):
        """args: extra redis-server arguments; auth: redis-cli arguments to log in with."""
        import socket as _s
        self.args, self.auth = list(args), list(auth)
        if port is None:
            s = _s.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="sn-redis-")
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir, *self.args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: self.cli("PING") == "PONG", timeout=10)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def cli(self, *args):
        p = subprocess.run(["redis-cli", "-p", str(self.port), *self.auth, *args], capture_output=True, text=True)
        return p.stdout.strip()

    def hgetall(self, key):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *self.auth, "--no-raw", "HGETALL", key], capture_output=True,
                             text=True).stdout
        vals = [json.loads(line.split(") ", 1)[1]) for line in out.splitlines() if ") " in line]
        return dict(zip(vals[0::2], vals[1::2]))

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"
