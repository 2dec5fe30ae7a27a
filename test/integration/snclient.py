"""Test clients for supernode: a small RFC 6455 websocket client and HTTP helpers.

Standard library only, so the integration suite needs nothing from PyPI.
"""
import json
import os
import socket
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../worker-sdk/python"))
from supernode_worker import WS, Closed, Worker  # noqa: E402,F401


def free_port():
    """A loopback port nobody listens on right now (for servers the tests start)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait(fn, timeout, interval=0.1):
    """fn() until it is truthy (errors count as not yet) or the deadline: for the long runs
    (chaos, hosts), where a node may be down for a while."""
    import time
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(interval)
    return None


def http(port, method, path, body=None, headers=None, timeout=30):
    """Returns (status, parsed JSON body or raw bytes)."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def raw_http(port, request_bytes, timeout=10):
    """Sends raw bytes, returns (status, body bytes) of the first response."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(request_bytes)
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            break
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    clen = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
    while len(rest) < clen:
        c = s.recv(4096)
        if not c:
            break
        rest += c
    s.close()
    return status, rest[:clen]
