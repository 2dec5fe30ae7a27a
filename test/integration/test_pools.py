#!/usr/bin/env python3
"""Worker pools: min/max/warm scaling, scale, claims."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, Node, check, run_all, test, wait_for  # noqa: E402
from snclient import WS  # noqa: E402

BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))


def instances(node, kind):
    return sorted(t["task_id"] for t in node.stat()[1]["tasks"] if t.get("kind") == kind)


def connected(node, kind):
    return [t for t in node.stat()[1]["tasks"] if t.get("kind") == kind and t["connected"]]


@test
def pool_scales_with_demand():
    cfg = {"watch_interval_ms": 100,
           "kinds": {"sleep": {"exec": [os.path.join(BIN_DIR, "sleep_job")], "min": 1, "max": 4, "warm": 1, "idle_retire_ms": 300}}}
    node = Node(config=cfg)
    wait_for(lambda: len(connected(node, "sleep")) == 1)
    check(instances(node, "sleep") == ["sleep_0"], "the pool starts its min: sleep_0", instances(node, "sleep"))
    ids = [node.cmd({"cmd": "job", "kind": "sleep", "payload": 1500})[1]["job"]["job_id"] for _ in range(8)]
    peak = wait_for(lambda: len(instances(node, "sleep")) == 4 and instances(node, "sleep"), timeout=10)
    check(peak == ["sleep_0", "sleep_1", "sleep_2", "sleep_3"], "a burst of slow jobs scales the kind up to max 4", peak)
    check(len(instances(node, "sleep")) <= 4, "never beyond max")
    done = wait_for(lambda: all(node.cmd({"cmd": "job_status", "job_id": i})[1]["job"]["status"] == "finished" for i in ids), timeout=30)
    check(done, "all the jobs finish")
    back = wait_for(lambda: len(instances(node, "sleep")) == 1, timeout=10)
    survivor = instances(node, "sleep")
    check(back and len(survivor) == 1, "then idle instances retire down to the warm level", survivor)
    s, r = node.cmd({"cmd": "scale", "kind": "sleep", "count": 3})
    names = sorted(t["task_id"] for t in r.get("tasks", []))
    # New instances take the lowest free numbers beside the survivor.
    want = sorted(survivor + [f"sleep_{i}" for i in range(4) if f"sleep_{i}" not in survivor][:2])
    check(s == 200 and names == want, "scale sets the count at once, new instances named with the lowest free n", (names, want))
    s, r = node.cmd({"cmd": "scale", "kind": "sleep", "count": 9})
    check(s == 400 and "count" in r["error"]["message"], "scale outside min/max: bad_request", r)
    s, r = node.cmd({"cmd": "scale", "kind": "none", "count": 1})
    check(s == 404, "scale of an unknown kind: not_found")
    st = node.stat()[1]["node"]["jobs"]["kinds"]["sleep"]
    check(st["done"] == 8, "/m/stat counts the kind's jobs", st)
    node.stop()


@test
def claims():
    cfg = {"kinds": {"echo": {"exec": [os.path.join(BIN_DIR, "echo_job")], "min": 1, "max": 3, "warm": 1, "idle_retire_ms": 60000}}}
    node = Node(config=cfg)
    wait_for(lambda: len(connected(node, "echo")) >= 1)
    c = WS(node.port, "/m/cmd")
    c.send({"cmd": "claim", "kind": "echo", "id": 1})
    r = c.recv(15 * SLOW)
    mine = r.get("task", {}).get("task_id")
    check(r.get("ok") and mine, "claim gives the connection a worker of the kind", r)
    wait_for(lambda: len(connected(node, "echo")) >= 2)
    others = {node.cmd({"cmd": "job", "kind": "echo", "payload": i, "wait": True})[1]["job"]["task_id"] for i in range(6)}
    check(mine not in others and others, "jobs from other clients never go to the claimed worker", (mine, others))
    c.send({"cmd": "job", "kind": "echo", "payload": "mine", "wait": True})
    r = c.recv(15 * SLOW)
    check(r.get("job", {}).get("task_id") == mine and r["job"]["output"] == "mine", "the claimer's jobs go to its worker", r)
    s, r = node.cmd({"cmd": "send", "task_id": mine, "data": 1})
    check(s == 409, "send to a claimed worker from another client: conflict", r)
    s, r = node.cmd({"cmd": "job", "task_id": mine, "payload": 1, "wait": True})
    check(s == 409 and r["error"]["code"] == "conflict", "a job for the claimed task from another client: conflict", r)
    c.send({"cmd": "job", "task_id": mine, "payload": 1, "start": False, "id": 3})
    r = c.recv(15 * SLOW)
    s, r = node.cmd({"cmd": "job_start", "job_id": r.get("job", {}).get("job_id")})
    check(s == 409, "another client starting a job for the claimed task: conflict", r)
    s, r = node.cmd({"cmd": "claim", "kind": "echo"})
    check(s == 400, "claim over HTTP: bad_request (it lasts as long as a websocket)")
    c.close()
    back = wait_for(lambda: mine in {node.cmd({"cmd": "job", "kind": "echo", "payload": 0, "wait": True})[1]["job"]["task_id"] for _ in range(4)}, timeout=10)
    check(back, "when the claimer disconnects the worker returns to the pool")
    node.stop()


@test
def waiting_claims_end_with_their_client():
    cfg = {"kinds": {"echo": {"exec": [os.path.join(BIN_DIR, "echo_job")], "min": 1, "max": 1}}}
    node = Node(config=cfg)
    wait_for(lambda: connected(node, "echo"))
    holder = WS(node.port, "/m/cmd")
    holder.send({"cmd": "claim", "kind": "echo", "id": 1})
    check(holder.recv(15 * SLOW).get("ok"), "one client holds the only instance")
    for _ in range(20):
        c = WS(node.port, "/m/cmd")
        c.send({"cmd": "claim", "kind": "echo", "id": 2})
        c.close()

    def waiting():
        return node.stat()[1]["node"]["jobs"]["kinds"]["echo"]["claims_waiting"]
    check(wait_for(lambda: waiting() == 0), "20 clients that claimed and left leave no claim waiting", waiting())
    holder.close()
    node.stop()


@test
def claim_recycle_restarts_the_instance():
    cfg = {"kinds": {"echo": {"exec": [os.path.join(BIN_DIR, "echo_job")], "min": 1, "max": 1, "claim_recycle": True}}}
    node = Node(config=cfg)
    first = wait_for(lambda: connected(node, "echo"))
    pid = first[0]["pid"] if first else None
    c = WS(node.port, "/m/cmd")
    c.send({"cmd": "claim", "kind": "echo", "id": 1})
    r = c.recv(15 * SLOW)
    mine = r.get("task", {}).get("task_id")
    check(r.get("ok") and mine, "claimed the only instance", r)
    c.send({"cmd": "release", "task_id": mine, "id": 2})
    r = c.recv(15 * SLOW)
    check(r.get("ok"), "released", r)
    again = wait_for(lambda: [t for t in connected(node, "echo") if t["pid"] != pid and t["state"] == "running"],
                     timeout=15)
    check(again and again[0]["task_id"] == mine, "claim_recycle: a fresh process runs the instance again",
          node.stat()[1]["tasks"])
    c.close()
    node.stop()


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
