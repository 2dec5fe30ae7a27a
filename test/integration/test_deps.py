#!/usr/bin/env python3
"""Task dependencies (`after`): blocked until dependencies run, cycles refused,
node shutdown in reverse dependency order."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Node, check, run_all, test, wait_for  # noqa: E402
from snclient import Worker  # noqa: E402


@test
def after_orders_startup():
    node = Node()
    s, r = node.cmd({"cmd": "start", "task_id": "web", "exec": ["/bin/sleep", "1000"], "after": ["db"]})
    check(s == 200 and r["task"]["state"] == "blocked" and r["task"]["after"] == ["db"], "a task whose dependency is missing is blocked", r.get("task", {}).get("state"))
    s, r = node.cmd({"cmd": "start", "task_id": "db", "mode": "net"})
    time.sleep(0.2)
    check(node.task("web")["state"] == "blocked", "still blocked while its dependency only waits for a worker")
    w = Worker(node.port, "db")
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" else None)(node.task("web")))
    check(t and t["pid"], "it starts once every dependency is running", node.task("web")["state"])
    s, r = node.cmd({"cmd": "start", "task_id": "a1", "mode": "net", "after": ["a2"]})
    s, r = node.cmd({"cmd": "start", "task_id": "a2", "mode": "net", "after": ["a1"]})
    check(s == 400 and "cycle" in r["error"]["message"], "a dependency cycle is refused with bad_request", r)
    s, r = node.cmd({"cmd": "start", "task_id": "self", "mode": "net", "after": ["self"]})
    check(s == 400, "a task cannot depend on itself", r)
    s, r = node.cmd({"cmd": "update", "task_id": "db", "after": ["web"]})
    check(s == 400 and "cycle" in r["error"]["message"], "update cannot create a cycle either", r)
    w.close()
    node.stop()


@test
def shutdown_in_reverse_dependency_order():
    log = tempfile.mktemp(prefix="sn-order-")
    node = Node()

    def svc(name, after=None):
        script = f"trap 'echo {name} >> {log}; exit 0' TERM; while :; do sleep 0.05; done"
        body = {"cmd": "start", "task_id": name, "exec": ["/bin/sh", "-c", script], "second_sig_duration_ms": 2000}
        if after:
            body["after"] = after
        node.cmd(body)

    svc("base")
    svc("mid", ["base"])
    svc("top", ["mid"])
    wait_for(lambda: all(node.task(t)["state"] == "running" for t in ("base", "mid", "top")))
    time.sleep(0.3)
    node.stop()
    order = open(log).read().split()
    check(order == ["top", "mid", "base"], "the node stops dependents first: top, mid, base", order)


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
