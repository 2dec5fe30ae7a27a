#!/usr/bin/env python3
"""Several hosts for real: Redis and three nodes, each in a network namespace of its own, joined
by a bridge this script creates and removes (a private /24 that routes nowhere else). Nodes
listen on their namespace's address and share Redis (with a password); workers of kind `echo`
and `sleep` run only on some hosts.

Checks: a job submitted on a host with no worker of its kind runs on another host; task state
of every node is readable from Redis; a task's data on host B is followed from host C through
the mirror_data stream with `redis-cli XREAD`; a host cut off (link down for 5 s) under load
loses no job and reports none twice; a host SIGKILLed under load has its running jobs finish on
another host. Figure: jobs/s through Redis with one, two and three worker hosts.

    hosts.py BUILD_DIR [--short]        (root, iproute2; prints "N passed, N failed")
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

# The run's directories under one: removed when every check passed, kept (and said) when not.
RUN_DIR = tempfile.mkdtemp(prefix="sn-hosts-run-")
tempfile.tempdir = RUN_DIR
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../test/integration"))
from snclient import wait  # noqa: E402

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SHORT = "--short" in sys.argv
TOKEN, RPW = "hosts-token", "hosts-redis-pw"
results = {"passed": 0, "failed": 0}


def say(*a):
    print(f"[hosts {time.strftime('%H:%M:%S')}]", *a, flush=True)


def check(cond, name, detail=""):
    results["passed" if cond else "failed"] += 1
    print(f"  {'ok  ' if cond else 'FAIL'} {name}" + ("" if cond else f" {detail}"[:1500]), flush=True)
    return cond


def sh(*args, check_rc=True):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


class Net:
    """A bridge in the root namespace and one namespace per host, with a veth pair each."""

    @staticmethod
    def cleanup_partial():
        """Whatever a failed set-up made (names carry our pid)."""
        tag = os.getpid() % 100000
        for ns in sh("ip", "netns", "list", check_rc=False).splitlines():
            if ns.split()[0].startswith(f"sn{tag}"):
                sh("ip", "netns", "del", ns.split()[0], check_rc=False)
        sh("ip", "link", "del", f"snbr{tag}", check_rc=False)

    def __init__(self, names):
        tag = os.getpid() % 100000
        self.subnet = f"10.213.{20 + tag % 200}"
        self.bridge = f"snbr{tag}"
        self.ns, self.addr, self.peer = {}, {}, {}
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i, name in enumerate(names):
            ns, inner, outer = f"sn{tag}{name}", f"i{tag}{name}"[:15], f"o{tag}{name}"[:15]
            self.ns[name], self.addr[name], self.peer[name] = ns, f"{self.subnet}.{10 + i}", outer
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
            sh("ip", "link", "set", inner, "netns", ns)
            sh("ip", "link", "set", outer, "master", self.bridge, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.addr[name]}/24", "dev", inner)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def run(self, name, args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.ns[name], *args], **kw)

    def link(self, name, up):
        sh("ip", "link", "set", self.peer[name], "up" if up else "down")

    def remove(self):
        for ns in self.ns.values():
            for pid in sh("ip", "netns", "pids", ns, check_rc=False).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check_rc=False)
        sh("ip", "link", "del", self.bridge, check_rc=False)


class Host:
    def __init__(self, net, name, redis_addr, workers):
        self.net, self.name, self.addr = net, name, net.addr[name]
        self.dir = tempfile.mkdtemp(prefix=f"sn-host-{name}-")
        cfg = {"node_id": name, "listen": "0.0.0.0:7700", "operator_token": TOKEN, "mirror_data": True,
               "redis_url": f"redis://:{RPW}@{redis_addr}:6379/0", "watch_interval_ms": 200,
               "tasks": [{"task_id": f"{name}-{kind}{i}", "kind": kind, "accept_tasks": True,
                          "exec": [os.path.join(BUILD, f"{kind}_job")]} for kind, n in workers.items() for i in range(n)]}
        cfg["tasks"].append({"task_id": f"{name}-sensor", "exec": [os.path.join(BUILD, "sensor")], "start_params": "100"})
        with open(os.path.join(self.dir, "node.json"), "w") as f:
            json.dump(cfg, f)
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "node.log"), "a")
        self.proc = self.net.run(self.name, [os.path.join(BUILD, "supernode"), "--config", os.path.join(self.dir, "node.json")],
                                 stdout=subprocess.DEVNULL, stderr=self.log)
        if not wait(lambda: self.stat()["ok"], 20):
            raise RuntimeError(f"node {self.name} did not start: " + open(self.log.name).read()[-2000:])

    def http(self, method, path, body=None, timeout=60):
        req = urllib.request.Request(f"http://{self.addr}:7700{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return json.load(e)

    def cmd(self, body, timeout=60):
        return self.http("POST", "/m/cmd", body, timeout)

    def stat(self):
        return self.http("GET", "/m/stat", timeout=5)


def redis_cli(net, name, addr, *args):
    p = net.run(name, ["redis-cli", "-h", addr, "-a", RPW, "--no-auth-warning", *args], stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True)
    return p.communicate(timeout=30)[0].strip()


def jobs_under_load(host, kind, n, payload, threads=16, retries=5):
    """n jobs with wait from `threads` clients; returns [(job_id, status)]."""
    out, lock, it = [], threading.Lock(), iter(range(n))

    def client():
        while True:
            with lock:
                i = next(it, None)
            if i is None:
                return
            try:
                r = host.cmd({"cmd": "job", "kind": kind, "payload": payload, "wait": True, "retries": retries,
                              "timeout_ms": 120000}, timeout=180)
                j = r.get("job", {})
                res = (j.get("job_id"), j.get("status") if r.get("ok") else r.get("error", {}).get("code"))
            except OSError as e:
                res = (None, f"client: {e}")
            with lock:
                out.append(res)
    ths = [threading.Thread(target=client) for _ in range(threads)]
    return ths, out


def main():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("hosts-test: skipped: it needs root and `ip netns` (iproute2) to make network namespaces")
        print("0 passed, 0 failed")
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        return 0
    try:
        net = Net(["r", "h1", "h2", "h3"])
    except RuntimeError as e:  # root without CAP_NET_ADMIN (a container), or no netns support
        Net.cleanup_partial()
        print(f"hosts-test: skipped: cannot make network namespaces here ({e})")
        print("0 passed, 0 failed")
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        return 0
    procs = []
    try:
        rdir = tempfile.mkdtemp(prefix="sn-hosts-redis-")
        raddr = net.addr["r"]
        procs.append(net.run("r", ["redis-server", "--bind", raddr, "--port", "6379", "--requirepass", RPW, "--save", "",
                                   "--appendonly", "no", "--dir", rdir], stdout=subprocess.DEVNULL))
        wait(lambda: redis_cli(net, "h1", raddr, "PING") == "PONG", 20)
        say(f"bridge {net.bridge} {net.subnet}.0/24; redis at {raddr}")
        # echo and sleep workers on h2 and h3 only.
        hosts = {"h1": Host(net, "h1", raddr, {}),
                 "h2": Host(net, "h2", raddr, {"echo": 2, "sleep": 2}),
                 "h3": Host(net, "h3", raddr, {"echo": 2, "sleep": 2})}
        for h in hosts.values():
            check(wait(lambda: h.stat()["node"]["redis"] == "connected", 20), f"{h.name} at {h.addr}: connected to redis")
        h1, h2, h3 = hosts["h1"], hosts["h2"], hosts["h3"]
        wait(lambda: all(t["connected"] for h in (h2, h3) for t in h.stat()["tasks"]), 20)

        r = h1.cmd({"cmd": "job", "kind": "echo", "payload": {"from": "h1"}, "wait": True})
        j = r.get("job", {})
        worker = redis_cli(net, "h1", raddr, "HGET", f"hero:job:{j.get('job_id')}", "worker_id")
        check(j.get("status") == "finished" and worker.split(":")[0] in ("h2", "h3"),
              "a job submitted on h1 (no echo worker there) runs on another host", (j.get("status"), worker))

        def states_match():
            for h in hosts.values():
                for t in h.stat()["tasks"]:
                    got = redis_cli(net, "h1", raddr, "HGET", f"supernode:{h.name}:task:{t['task_id']}", "state")
                    if got != t["state"]:
                        return False
            return True
        check(wait(states_match, 20), "the task state of every node is readable from Redis")

        xread = wait(lambda: redis_cli(net, "h3", raddr, "XREAD", "COUNT", "3", "STREAMS", "supernode:h2:data:h2-sensor", "0"),
                     20)
        check(xread and "temp_c" in xread, "host C follows the data of a task on host B: redis-cli XREAD on mirror_data",
              xread[:300] if xread else xread)

        # A host cut off under load: sleep jobs of 300 ms, h2's link down for 5 s (more than 3 heartbeats).
        n = 60 if SHORT else 200
        ths, out = jobs_under_load(h1, "sleep", n, 300)
        for t in ths:
            t.start()
        wait(lambda: len(out) >= n // 4, 120)
        say("h2's link goes down for 5 s")
        net.link("h2", False)
        time.sleep(5)  # the fault itself lasts 5 s; what follows waits on conditions
        net.link("h2", True)
        say("h2's link is back")
        for t in ths:
            t.join(300)
        statuses = [s for _, s in out]
        check(len(out) == n and statuses.count("finished") == n, f"{n} jobs under load with a host cut off: all finish",
              {s: statuses.count(s) for s in set(statuses)})
        check(wait(lambda: h2.stat()["node"]["redis"] == "connected", 30), "h2 reconnects when its link is back")
        ids = [i for i, _ in out if i]
        twice = [i for i in ids if redis_cli(net, "h1", raddr, "LLEN", f"hero:reply:{i}") not in ("1",)]
        check(not twice, "and none was reported twice (one hero:reply entry each)", twice[:5])

        # A host SIGKILLed under load: its running jobs finish on another host.
        ths, out = jobs_under_load(h1, "sleep", n // 2, 1000, threads=8)
        for t in ths:
            t.start()
        wait(lambda: any(t["busy"] for t in h3.stat()["tasks"]), 60)
        os.kill(h3.proc.pid, signal.SIGKILL)
        held = redis_cli(net, "h1", raddr, "LRANGE", "hero:processing:h3", "0", "-1").split()
        say(f"h3 SIGKILLed holding {len(held)} job(s)")
        for t in ths:
            t.join(300)
        statuses = [s for _, s in out]
        info = [redis_cli(net, "h1", raddr, "HMGET", f"hero:job:{i}", "sn_retries", "worker_id").split("\n")
                for i, _ in out if i]
        retried = [redis_cli(net, "h1", raddr, "HMGET", f"hero:job:{i}", "sn_retries", "worker_id").split("\n")
                   for i in held]
        retried = [x for x in retried if x[0] == "4"] if held else []
        check(len(out) == n // 2 and statuses.count("finished") == n // 2 and held and len(retried) == len(held) and
              all(x[1].startswith("h2:") for x in retried),
              "a host SIGKILLed under load: its running jobs finish on another host (a retry counted)",
              ({s: statuses.count(s) for s in set(statuses)}, held, retried, sorted(set(tuple(x) for x in info))[:8]))
        h3.start()
        wait(lambda: h3.stat()["node"]["redis"] == "connected", 30)

        # Jobs/s through Redis with one, two and three worker hosts (submitted on h1).
        figures = []
        count = 2000 if SHORT else 10000
        bench = os.path.join(BUILD, "sn-bench")
        for hosts_on in (["h2"], ["h2", "h3"], ["h2", "h3", "h1"]):
            for name in ("h1", "h2", "h3"):
                want = name in hosts_on
                h = hosts[name]
                for i in range(2):
                    tid = f"{name}-echo{i}"
                    have = any(t["task_id"] == tid for t in h.stat()["tasks"])
                    if want and not have:
                        h.cmd({"cmd": "start", "task_id": tid, "kind": "echo", "accept_tasks": True,
                               "exec": [os.path.join(BUILD, "echo_job")]})
                    elif not want and have:
                        h.cmd({"cmd": "remove", "task_id": tid})
            wait(lambda: all(any(t["task_id"] == f"{nm}-echo{i}" and t["connected"] for t in hosts[nm].stat()["tasks"])
                             for nm in hosts_on for i in range(2)), 30)
            p = net.run("h1", [bench, "--jobs", "7700", str(count), f"{len(hosts_on)} worker host(s)", "64"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                        env=dict(os.environ, SN_BENCH_TOKEN=TOKEN))
            line = p.communicate(timeout=600)[0].strip()
            figures.append(line)
            say(line)
        print("\njobs through Redis, 64 in flight, submitted on h1, echo_job x2 per worker host:")
        print("\n".join(figures))
        check(all(len(f.split()) > 3 for f in figures), "jobs/s measured with 1, 2 and 3 worker hosts", figures)
    finally:
        for h in list(locals().get("hosts", {}).values()):
            if h.proc.poll() is None:
                h.proc.send_signal(signal.SIGTERM)
                try:
                    h.proc.wait(30)
                except subprocess.TimeoutExpired:
                    h.proc.kill()
        for p in procs:
            p.terminate()
        net.remove()
        say("namespaces and bridge removed")
    print(f"{results['passed']} passed, {results['failed']} failed")
    if results["failed"]:
        print(f"logs of this run kept in {RUN_DIR}")
    else:
        shutil.rmtree(RUN_DIR, ignore_errors=True)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
