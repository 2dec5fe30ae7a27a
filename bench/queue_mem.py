#!/usr/bin/env python3
"""Queue memory for scripts/bench: a task with queue_len 1,000,000 is filled with 1,000,000
items of SIZE bytes (JSON strings, put in frames of 1,000) and the node's RSS is read before
and after; what it grew by beyond the items' own bytes, per item, is the queue's overhead
(item header, slot, chunk headers, and whatever else the puts left behind).
Usage: queue_mem.py PORT NODE_PID [SIZE]"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "worker-sdk", "python"))
from supernode_worker import Worker  # noqa: E402
from supervision import cmd, rss_kb  # noqa: E402

N = 1_000_000


def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    cmd(port, {"cmd": "start", "task_id": "qmem", "mode": "net", "queue_len": N})
    w = Worker(port, "qmem")
    item = json.dumps("x" * (size - 2))  # a JSON string of exactly `size` bytes
    assert len(item) == size
    frame = '{"type":"put","items":[' + ",".join([item] * 1000) + "]}"
    time.sleep(0.5)
    before = rss_kb(pid)
    for _ in range(N // 1000):
        w.send_raw(frame.encode(), 1)
    deadline = time.time() + 120
    while time.time() < deadline:
        q = cmd(port, {"cmd": "status", "task_id": "qmem"})["task"]["queue"]
        if q["len"] == N:
            break
        time.sleep(0.2)
    after = rss_kb(pid)
    per_item = ((after - before) * 1024 - N * size) / N
    print(f"{'queue of 1,000,000 items of %d bytes' % size:<44} {per_item:12.1f} bytes/item beyond the data"
          f" (RSS +{(after - before) / 1024:.1f} MiB)")
    w.close()
    cmd(port, {"cmd": "remove", "task_id": "qmem"})


if __name__ == "__main__":
    main()
