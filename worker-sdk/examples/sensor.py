#!/usr/bin/env python3
"""Demo worker: emits a JSON reading every SUPERNODE_START_PARAMS ms (default 1000).
Answers a cmd {"interval_ms": N} by changing its rate. Used by scripts/run."""
import math
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../python"))
from supernode_worker import Closed, Worker  # noqa: E402


def main():
    url = os.environ["SUPERNODE_URL"]
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    w = Worker(port, os.environ["SUPERNODE_TASK_ID"], os.environ.get("SUPERNODE_TOKEN"))
    if w.welcome.get("type") != "welcome":
        print("refused:", w.welcome, file=sys.stderr)
        return 1
    interval = int(os.environ.get("SUPERNODE_START_PARAMS") or 1000) / 1000.0
    print(f"sensor up, one reading every {interval}s", flush=True)
    n = 0
    while True:
        n += 1
        w.put({"n": n, "temp_c": round(20 + 5 * math.sin(n / 10) + random.random(), 2), "ts": time.time()})
        try:
            m = w.recv(timeout=interval)
            if m.get("type") == "cmd" and isinstance(m.get("data"), dict) and "interval_ms" in m["data"]:
                interval = max(0.01, m["data"]["interval_ms"] / 1000.0)
                print(f"interval now {interval}s", flush=True)
            elif m.get("type") == "stop":
                return 0
        except (socket.timeout, TimeoutError):
            pass
        except Closed:
            return 0


if __name__ == "__main__":
    sys.exit(main())
