#!/usr/bin/env python3
"""Chaos run: two nodes and a real Redis on loopback, jobs and data under load, while workers are
SIGKILLed at random, Redis is restarted (empty), a node is SIGKILLed and restarted, fetchers are
slow or vanish, and 2,000 websocket clients connect at once. Prints what went in and what came
out; exits 1 when a job is lost, items do not add up, or a process is left behind.

    chaos.py BUILD_DIR [--seconds N]
"""
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# The run's directories (nodes' logs, Redis's) under one: removed when the run is ok, kept (and
# said) when not, so that whoever looks into a failure has the logs.
RUN_DIR = tempfile.mkdtemp(prefix="chaos-run-")
tempfile.tempdir = RUN_DIR

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../test/integration"))
from snclient import WS, Worker, free_port, http, wait  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
SECONDS = int(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 120
rng = random.Random(7)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def say(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)




class Redis:
    def __init__(self):
        self.port, self.dir = free_port(), tempfile.mkdtemp(prefix="chaos-redis-")
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL)
        wait(lambda: self.cli("PING") == "PONG", 10)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True).stdout.strip()


class NodeProc:
    def __init__(self, name, redis):
        self.name, self.port, self.dir = name, free_port(), tempfile.mkdtemp(prefix=f"chaos-{name}-")
        self.cfg = os.path.join(self.dir, "node.json")
        sleep_job = os.path.join(BUILD, "sleep_job")
        tasks = [{"task_id": f"{name}w{i}", "kind": "work", "accept_tasks": True, "exec": [sleep_job],
                  "backoff_ms": 50, "max_restarts": 1000} for i in range(3)]
        if name == "A":
            tasks.append({"task_id": "data", "mode": "net", "queue_len": 1000000})
        json.dump({"redis_url": f"redis://127.0.0.1:{redis.port}", "node_id": f"chaos{name}",
                   "state_dir": os.path.join(self.dir, "state"), "max_connections": 5000, "max_queued_jobs": 100000,
                   "tasks": tasks}, open(self.cfg, "w"))
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "node.log"), "a")
        self.proc = subprocess.Popen([os.path.join(BUILD, "supernode"), "--listen", f"127.0.0.1:{self.port}",
                                      "--config", self.cfg], stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.proc.stdout.readline()

    def stat(self):
        return http(self.port, "GET", "/m/stat", timeout=10)[1]

    def rss_kb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


def ours():
    """Processes running a binary of this build (node, shim, workers)."""
    found = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith(BUILD + "/"):
                found[p] = cmd
    return found


already = ours()  # not this run's
redis = Redis()
A, B = NodeProc("A", redis), NodeProc("B", redis)
for n in (A, B):
    wait(lambda: n.stat()["node"]["redis"] == "connected", 20)
    wait(lambda: sum(1 for t in n.stat()["tasks"] if t.get("kind") == "work" and t["connected"]) == 3, 20)
say(f"nodes A :{A.port} and B :{B.port}, redis :{redis.port}; {SECONDS} s of chaos")
rss_before = A.rss_kb()
stop = threading.Event()
lock = threading.Lock()
jobs = {"submitted": 0, "refused": 0, "ids": []}


def submitter(k):
    """Jobs go in through node A (which lives); they run on A's or B's workers, through Redis."""
    while not stop.is_set():
        try:
            s, r = http(A.port, "POST", "/m/cmd", {"cmd": "job", "kind": "work", "payload": rng.randint(1, 30),
                                                  "retries": 10, "timeout_ms": 600000}, timeout=10)
        except OSError:
            continue
        with lock:
            if s == 200:
                jobs["submitted"] += 1
                jobs["ids"].append(r["job"]["job_id"])
            else:
                jobs["refused"] += 1
        time.sleep(0.01)


data = {"produced": 0, "delivered": 0, "gaps": 0, "last": 0, "disorder": 0}


def producer():
    w = Worker(A.port, "data")
    n = 0
    while not stop.is_set():
        w.put_items([{"n": n + i} for i in range(100)])
        n += 100
        data["produced"] = n
        time.sleep(0.005)
    w.close()


def fast_fetcher():
    f = WS(A.port, "/m/fetch/data?from=oldest&batch=500")
    while not (stop.is_set() and data["delivered"] + data["gaps"] >= data["produced"]):
        try:
            m = f.recv(timeout=5)
        except Exception:
            break
        if m.get("type") == "items":
            for it in m["items"]:
                data["disorder"] += it["seq"] != data["last"] + 1
                data["last"] = it["seq"]
                data["delivered"] += 1
        elif m.get("type") == "gap":
            data["gaps"] += m["to"] - m["from"]
            data["last"] = m["to"] - 1
    f.close()


def bad_fetchers():
    """A reader that reads slowly and readers that vanish mid-stream."""
    slow = WS(A.port, "/m/fetch/data?from=oldest", rcvbuf=4096)
    while not stop.is_set():
        try:
            slow.recv(timeout=1)
            v = WS(A.port, "/m/fetch/data?from=oldest&batch=100")
            v.recv(timeout=1)
            v.sock.close()  # gone without a close frame
        except Exception:
            pass
        time.sleep(0.2)
    slow.close()


def worker_pids():
    pids = []
    for n in (A, B):
        try:
            pids += [t["pid"] for t in n.stat()["tasks"] if t.get("kind") == "work" and t.get("pid")]
        except OSError:
            pass
    return pids


threads = [threading.Thread(target=submitter, args=(k,)) for k in range(8)]
threads += [threading.Thread(target=producer), threading.Thread(target=fast_fetcher), threading.Thread(target=bad_fetchers)]
for t in threads:
    t.start()

start, kills, events = time.time(), 0, []
redis_at, node_at, crowd_at = SECONDS * 0.3, SECONDS * 0.6, SECONDS * 0.45
while time.time() - start < SECONDS:
    el = time.time() - start
    pids = worker_pids()
    if pids:
        try:
            os.kill(rng.choice(pids), signal.SIGKILL)
            kills += 1
        except OSError:
            pass
    if redis_at and el >= redis_at:
        redis_at = 0
        say("redis restarted (empty)")
        redis.stop()
        redis.start()
        events.append("redis restart")
    if crowd_at and el >= crowd_at:
        crowd_at = 0
        socks = []
        for i in range(2000):
            s = socket.create_connection(("127.0.0.1", A.port))
            s.sendall(b"GET /m/stat?interval_ms=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            socks.append(s)
        ok = sum(1 for s in socks if s.recv(12).startswith(b"HTTP/1.1 101"))
        for s in socks:
            s.close()
        say(f"2,000 websocket clients at once: {ok} upgraded")
        events.append(f"2000 clients ({ok} upgraded)")
    if node_at and el >= node_at:
        node_at = 0
        say("node B SIGKILLed")
        B.proc.kill()
        B.proc.wait()
        B.log.close()
        time.sleep(1)
        B.start()
        say("node B restarted")
        events.append("node B kill+restart")
    if int(el) % 10 == 0:
        say(f"{int(el)}s: jobs {jobs['submitted']}, items {data['produced']}, worker kills {kills}")
    time.sleep(1)

stop.set()
say("load stopped; waiting for every job to end")


def ended():
    left = 0
    for i in jobs["ids"]:
        st = redis.cli("HGET", f"hero:job:{i}", "sn_status")
        if st not in ("finished", "error", "timeout"):
            left += 1
    return left


def settle():
    left = ended()
    return left == 0 or None


wait(settle, 240)
finished = sum(1 for i in jobs["ids"] if redis.cli("HGET", f"hero:job:{i}", "sn_status") == "finished")
failed = sum(1 for i in jobs["ids"] if redis.cli("HGET", f"hero:job:{i}", "sn_status") in ("error", "timeout"))
lost = len(jobs["ids"]) - finished - failed
if lost:  # where the lost ones are, for whoever has to find out why
    keys = redis.cli("KEYS", "hero:*queue*").split() + redis.cli("KEYS", "hero:processing:*").split()
    for i in [i for i in jobs["ids"] if redis.cli("HGET", f"hero:job:{i}", "sn_status") not in ("finished", "error", "timeout")][:5]:
        where = [k for k in keys if redis.cli("LPOS", k, i)]
        say(f"lost {i}: {redis.cli('HGETALL', f'hero:job:{i}').split()} in {where}")
for t in threads:
    t.join(60)
rss_after = A.rss_kb()
for n in (A, B):
    n.proc.send_signal(signal.SIGTERM)
    n.proc.wait(60)
redis.stop()
time.sleep(0.5)
orphans = [(p, c) for p, c in ours().items() if p not in already]
print()
print(f"chaos: {SECONDS} s, {kills} worker SIGKILLs, " + ", ".join(events))
print(f"jobs   submitted {jobs['submitted']}  finished {finished}  failed {failed}  lost {lost}  (refused at the door: {jobs['refused']})")
print(f"items  produced {data['produced']}  delivered {data['delivered']}  reported as gaps {data['gaps']}  "
      f"out of order {data['disorder']}")
print(f"node A RSS before {rss_before} kB, after {rss_after} kB")
print(f"orphans left {len(orphans)} {orphans[:3] if orphans else ''}")
bad = lost or data["delivered"] + data["gaps"] != data["produced"] or data["disorder"] or orphans
print("chaos: FAILED" if bad else "chaos: ok")
if bad:
    print(f"logs of this run kept in {RUN_DIR}")
else:
    import shutil
    shutil.rmtree(RUN_DIR, ignore_errors=True)
print(f"{0 if bad else 1} passed, {1 if bad else 0} failed")
sys.exit(1 if bad else 0)
