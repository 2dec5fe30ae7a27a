#!/usr/bin/env python3
"""Supervision figures for scripts/bench:
  1. crash -> replacement running: a worker that exits at once, 1,000 times; the time
     between one run's start and the next (each run stamps CLOCK_MONOTONIC at main()).
  2. node CPU and RSS with 1,000 idle supervised tasks (sleep workers).
Usage: supervision.py PORT MISBEHAVE_BIN NODE_PID"""
import json
import os
import sys
import tempfile
import time
import urllib.request


def cmd(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/m/cmd", data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    port, mis, node_pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    crashes = int(os.environ.get("SN_BENCH_CRASHES", "1000"))
    stamp = tempfile.mktemp(prefix="sn-stamps-")
    cmd(port, {"cmd": "start", "task_id": "crashy", "exec": [mis, "stamp", stamp], "backoff_ms": 0,
               "backoff_max_ms": 0, "max_restarts": 10000, "restart_window_ms": 1})
    deadline = time.time() + 120
    n = 0
    while time.time() < deadline:
        try:
            with open(stamp) as f:
                n = sum(1 for _ in f)
        except OSError:
            n = 0
        if n > crashes:
            break
        time.sleep(0.05)
    cmd(port, {"cmd": "remove", "task_id": "crashy"})
    with open(stamp) as f:
        starts = [int(x) for x in f.read().split()][: crashes + 1]
    os.unlink(stamp)
    gaps = [(b - a) / 1e6 for a, b in zip(starts, starts[1:])]
    print(f"{'crash -> replacement running (start to start)':44} {len(gaps):>8} crashes  "
          f"p50 {pct(gaps, 0.5):.3f} ms  p99 {pct(gaps, 0.99):.3f} ms")

    tasks = int(os.environ.get("SN_BENCH_IDLE", "1000"))
    rss0 = rss_kb(node_pid)
    for i in range(tasks):
        r = cmd(port, {"cmd": "start", "task_id": f"idle{i}", "exec": ["/bin/sleep", "3600"]})
        if not r.get("ok"):
            print("start failed:", r)
            return 1
    time.sleep(2)
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.time(), cpu_ticks(node_pid)
    time.sleep(10)
    t1, c1 = time.time(), cpu_ticks(node_pid)
    cpu = (c1 - c0) / hz / (t1 - t0) * 100
    rss = rss_kb(node_pid)
    print(f"{f'{tasks} idle supervised tasks (sleep workers)':44} node CPU {cpu:.1f}%  RSS {rss / 1024:.1f} MiB "
          f"(+{(rss - rss0) / 1024:.1f} MiB for the tasks)")
    t0 = time.time()
    for i in range(tasks):
        cmd(port, {"cmd": "remove", "task_id": f"idle{i}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
