"""GET /metrics: the Prometheus text format, checked by promtool and scraped by a real
Prometheus server."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request

from harness import Node, check, test, wait_for, SLOW
from snclient import Worker, free_port, http

TOKEN = "metrics-token-1"
BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))
AUTH = {"Authorization": f"Bearer {TOKEN}"}




def scrape(node, headers=AUTH):
    req = urllib.request.Request(f"http://127.0.0.1:{node.port}/metrics", headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def sample(text, name, **labels):
    """The value of the one sample of name with (at least) these labels, or None."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            if key.split("{")[0] == name and all(w in key for w in want):
                return float(value)
    return None


def crash_task(node, task_id="crash"):
    node.cmd({"cmd": "start", "task_id": task_id, "kind": "demo", "exec": ["/bin/sh", "-c", "sleep 0.1; exit 3"],
              "backoff_ms": 50, "max_restarts": 1000}, AUTH)


@test
def metrics_in_the_prometheus_text_format():
    node = Node(config={"operator_token": TOKEN})
    s, _ = http(node.port, "GET", "/metrics")
    check(s == 401, "without the operator token: 401, like /m/*", s)
    crash_task(node)
    node.cmd({"cmd": "start", "task_id": "feed", "mode": "net", "queue_len": 5}, AUTH)
    w = Worker(node.port, "feed")
    w.put_items([{"i": i} for i in range(8)])
    wait_for(lambda: node.stat("feed", AUTH)[1]["task"]["queue"]["len"] == 5)
    for tid, prog in (("e1", "echo_job"), ("s1", "sleep_job")):
        node.cmd({"cmd": "start", "task_id": tid, "kind": prog[:-4], "accept_tasks": True,
                  "exec": [os.path.join(BIN_DIR, prog)]}, AUTH)
        wait_for(lambda: node.stat(tid, AUTH)[1]["task"]["connected"])
    s, r = node.cmd({"cmd": "job", "kind": "echo", "payload": 7, "wait": True}, AUTH)
    s2, r2 = node.cmd({"cmd": "job", "kind": "sleep", "payload": 5000 * SLOW, "timeout_ms": 100, "wait": True}, AUTH)
    check(r["job"]["status"] == "finished" and r2["job"]["status"] == "timeout", "a job finished, one timed out", (r, r2))
    wait_for(lambda: node.stat("crash", AUTH)[1]["task"]["restarts"] >= 2)
    ctype, text = scrape(node)
    check(ctype == "text/plain; version=0.0.4; charset=utf-8", "Content-Type of format 0.0.4", ctype)
    promtool = shutil.which("promtool")
    if check(promtool is not None, "promtool is installed (scripts/setup installs prometheus)"):
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        check(r.returncode == 0, "promtool check metrics: no errors, no lint problems", r.stdout + r.stderr)
    check(sample(text, "supernode_task_restarts_total", task_id="crash", kind="demo", reason="exit") >= 2,
          "restarts of a crashing task, by reason", sample(text, "supernode_task_restarts_total", task_id="crash"))
    check(sample(text, "supernode_task_state", task_id="feed", state="running") == 1 and
          sample(text, "supernode_task_state", task_id="feed", state="waiting") == 0,
          "one gauge per state: 1 for the task's state")
    check(sample(text, "supernode_task_items_in_total", task_id="feed") == 8 and
          sample(text, "supernode_task_queue_items", task_id="feed") == 5 and
          sample(text, "supernode_task_queue_capacity_items", task_id="feed") == 5 and
          sample(text, "supernode_task_queue_dropped_total", task_id="feed") == 3,
          "items in, queue length, capacity and drops")
    check(sample(text, "supernode_task_connected", task_id="feed") == 1 and
          sample(text, "supernode_connections", role="worker") >= 1, "the worker is connected")
    check(sample(text, "supernode_jobs_ended_total", status="timeout") == 1 and
          sample(text, "supernode_jobs_ended_total", status="finished") == 1 and
          sample(text, "supernode_job_duration_seconds_count") == 2 and
          sample(text, "supernode_job_duration_seconds_bucket", le="+Inf") == 2 and
          sample(text, "supernode_job_duration_seconds_bucket", le="0.05") <= 1,
          "jobs ended by status and the duration histogram")
    check(sample(text, "supernode_task_jobs_done_total", task_id="e1") == 1 and
          sample(text, "supernode_task_jobs_failed_total", task_id="s1") == 1, "jobs done and failed per task")
    rss = sample(text, "process_resident_memory_bytes")
    check(rss and rss > 1e6 and sample(text, "process_open_fds") > 3 and sample(text, "process_cpu_seconds_total") >= 0,
          "the standard process_* series", rss)
    check(sample(text, "supernode_build_info", node_id=node.stat(None, AUTH)[1]["node"]["node_id"]) == 1, "build info")
    w.close()
    node.stop()


@test
def prometheus_scrapes_the_node():
    """A real Prometheus server scrapes the node with the token and sees a crash counted."""
    prom = shutil.which("prometheus")
    if not check(prom is not None, "prometheus is installed (scripts/setup installs it)"):
        return
    node = Node(config={"operator_token": TOKEN})
    crash_task(node)
    d, port = tempfile.mkdtemp(prefix="sn-prom-"), free_port()
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: supernode
    scrape_interval: 1s
    authorization:
      credentials: {TOKEN}
    static_configs:
      - targets: ['127.0.0.1:{node.port}']
""")
    log = open(os.path.join(d, "prometheus.log"), "w")
    proc = subprocess.Popen([prom, f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/data",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)

    def query(q):
        url = f"http://127.0.0.1:{port}/api/v1/query?query=" + urllib.parse.quote(q)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                res = json.load(r)["data"]["result"]
        except OSError:
            return None
        return float(res[0]["value"][1]) if res else None

    up = wait_for(lambda: query('up{job="supernode"}') == 1, timeout=60)
    check(up, "Prometheus scrapes /metrics with the token (up == 1)", open(os.path.join(d, "prometheus.log")).read()[-1500:])
    seen = wait_for(lambda: (query('supernode_task_restarts_total{task_id="crash",reason="exit"}') or 0) >= 1, timeout=60)
    check(seen, "and reads supernode_task_restarts_total after a crash",
          query('supernode_task_restarts_total{task_id="crash"}'))
    proc.terminate()
    proc.wait(30)
    log.close()
    shutil.rmtree(d, ignore_errors=True)
    node.stop()


@test
def cpu_per_task():
    """cpu_pct: the CPU the worker's tree used over the last watch tick, % of one core."""
    node = Node(config={"watch_interval_ms": 200})
    node.cmd({"cmd": "start", "task_id": "spin", "exec": ["/bin/sh", "-c", "while :; do :; done"]})
    node.cmd({"cmd": "start", "task_id": "idle", "exec": ["/bin/sleep", "1000"]})
    busy = wait_for(lambda: (node.task("spin").get("cpu_pct") or 0) > 30, timeout=20)
    check(busy, "a spinning worker shows its CPU", node.task("spin").get("cpu_pct"))
    wait_for(lambda: node.task("idle").get("cpu_pct") is not None)
    check(node.task("idle")["cpu_pct"] < 5, "a sleeping one shows none", node.task("idle")["cpu_pct"])
    node.cmd({"cmd": "stop", "task_id": "spin"})
    check(node.task("spin")["cpu_pct"] is None, "a stopped task has no figure")
    node.stop()
