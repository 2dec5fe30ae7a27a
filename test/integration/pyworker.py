#!/usr/bin/env python3
"""An exec worker for the tests: connects with the SUPERNODE_* environment, puts
`start_params` items (default 5), then echoes every cmd back as an item.
Modes (argv[1]): ignore-term (ignores SIGTERM), silent (puts nothing, sends nothing:
no heartbeat), hb (sends {"type":"hb"} every 100 ms), pong (answers pings)."""
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from snclient import Worker, Closed  # noqa: E402

mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
url = os.environ["SUPERNODE_URL"]
port = int(url.rsplit(":", 1)[1].split("/")[0])
w = Worker(port, os.environ["SUPERNODE_TASK_ID"], os.environ["SUPERNODE_TOKEN"], accept_tasks=(mode == "pong"))
if w.welcome.get("type") != "welcome":
    print("refused:", w.welcome, file=sys.stderr)
    sys.exit(3)
n = int(os.environ.get("SUPERNODE_START_PARAMS") or 5)
if mode != "silent":
    w.put_items([{"i": i, "pid": os.getpid()} for i in range(n)])
print(f"worker {os.getpid()} up ({mode or 'plain'})", flush=True)
while True:
    try:
        m = w.recv(timeout=0.1 if mode == "hb" else 3600)
    except (socket.timeout, TimeoutError):
        w.send({"type": "hb"})
        continue
    except Closed:
        sys.exit(0)
    if isinstance(m, dict) and m.get("type") == "cmd":
        w.put({"echo": m.get("data")})
    elif isinstance(m, dict) and m.get("type") == "ping" and mode == "pong":
        w.send({"type": "pong", "job_id": m.get("job_id")})
    elif isinstance(m, dict) and m.get("type") == "stop":
        sys.exit(0)
