#!/usr/bin/env python3
"""Durable queues (state_dir): a node restarted or SIGKILLed comes back with each task's queue,
its items, seqs and drop counts; fetchers resume from their seq."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, Node, check, run_all, test, wait_for  # noqa: E402
from snclient import WS, Worker, http  # noqa: E402


def items(node, task, frm="oldest"):
    s, r = http(node.port, "GET", f"/m/fetch/{task}?from={frm}&limit=1000")
    return r


@test
def queues_survive_sigkill():
    state = tempfile.mkdtemp(prefix="sn-durable-")
    cfg = {"state_dir": state, "queue_fsync": "always"}
    node = Node(config=cfg)
    node.cmd({"cmd": "start", "task_id": "q1", "mode": "net", "queue_len": 50})
    w = Worker(node.port, "q1")
    w.put_items([{"i": i, "s": "é" * (i % 3)} for i in range(1, 81)])
    w.send_raw(b"\x00\x01binary\xff", 2)
    check(wait_for(lambda: node.task("q1")["queue"]["next_seq"] == 82), "81 items in, 31 dropped by queue_len 50")
    c = WS(node.port, "/m/fetch/q1?from=oldest&consume=1&ack=1&batch=10&window=10")
    got = c.recv(10)
    seqs = [it["seq"] for it in got.get("items", [])]
    c.send({"type": "ack", "seq": seqs[-1]})
    check(seqs == list(range(32, 42)) and wait_for(lambda: node.task("q1")["queue"]["len"] == 40),
          "a consumer took seqs 32..41", (seqs, node.task("q1")["queue"]))
    c.close()
    before = node.task("q1")["queue"]
    want = items(node, "q1")
    node.proc.kill()  # SIGKILL: no shutdown at all
    node.proc.wait()
    node.log.close()
    node = Node(config=cfg)
    after = wait_for(lambda: node.task("q1").get("queue"))
    check(after == before, "the queue comes back as it was: len, first_seq, next_seq, dropped", (before, after))
    got = items(node, "q1")
    check(got["items"] == want["items"], "the same items with the same seqs, data and times (binary too)",
          (len(got["items"]), len(want["items"])))
    r = items(node, "q1", 45)
    check(r["items"][0]["seq"] == 45 and r["gap"] is None, "a fetcher resuming from its seq gets no gap", r["gap"])
    w2 = Worker(node.port, "q1")
    w2.put({"after": 1})
    check(wait_for(lambda: node.task("q1")["queue"]["next_seq"] == 83), "new items go on from the next seq")
    w2.close()
    node.stop()
    # A graceful restart keeps it too; a removed task takes its queue with it.
    node = Node(config=cfg)
    check(wait_for(lambda: node.task("q1").get("queue", {}).get("next_seq") == 83), "and after a clean restart")
    log = os.path.join(state, "queues", "q1.qlog")
    check(os.path.exists(log), "the queue log is there", log)
    node.cmd({"cmd": "remove", "task_id": "q1"})
    check(wait_for(lambda: not os.path.exists(log)), "removing the task removes its queue log")
    node.stop()


@test
def queue_log_is_compacted():
    state = tempfile.mkdtemp(prefix="sn-durable-")
    node = Node(config={"state_dir": state})
    node.cmd({"cmd": "start", "task_id": "big", "mode": "net", "queue_len": 100})
    w = Worker(node.port, "big")
    total = 20000 if SLOW == 1 else 4000
    pad = "p" * 500
    for k in range(0, total, 500):
        w.put_items([{"n": k + i, "pad": pad} for i in range(500)])
    check(wait_for(lambda: node.task("big")["queue"]["next_seq"] == total + 1), f"{total} items of 500 bytes went in")
    size = os.path.getsize(os.path.join(state, "queues", "big.qlog"))
    check(size < 3 * 1024 * 1024, "the log keeps about the window, not every item ever put (it is rewritten)", size)
    s, r = node.cmd({"cmd": "update", "task_id": "big", "queue_len": 10})
    node.stop()
    node = Node(config={"state_dir": state})
    q = wait_for(lambda: node.task("big").get("queue"))
    check(q["len"] == 10 and q["first_seq"] == total - 9 and q["dropped"] == total - 10,
          "a smaller queue_len is kept across the restart, with the drops counted", q)
    node.stop()


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
