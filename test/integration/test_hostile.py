"""Hostile clients: raw sockets that send what well-behaved libraries never would. After each
case the node must still answer a ping; the cases that once crashed it or leaked are kept here
as regressions (see docs/protocol.md, "Malformed input")."""
import json
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, Node, check, test, wait_for  # noqa: E402
from rawws import OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, RawWS, frame  # noqa: E402
from snclient import WS, Worker, http, raw_http  # noqa: E402


def alive(node):
    try:
        s, r = node.cmd({"cmd": "ping"})
        return s == 200 and r.get("pong") is True
    except OSError:
        return False


def err_code(r):
    return r.get("error", {}).get("code") if isinstance(r, dict) else None


def net_task(node, task_id, **fields):
    s, r = node.cmd({"cmd": "start", "task_id": task_id, "mode": "net", **fields})
    assert s == 200, (s, r)


WS_PATHS = ["/m/cmd", "/w/ch", "/m/fetch/t", "/m/fetch", "/m/stat"]

# name -> (frames, close codes accepted; None = the node may keep the connection open)
FRAME_CASES = {
    "empty text frame": ([frame(OP_TEXT, b"")], None),
    "empty binary frame": ([frame(OP_BIN, b"")], None),
    "empty fragments": ([frame(OP_TEXT, b"", fin=False), frame(OP_CONT, b"")], None),
    "empty continuation ends a message": ([frame(OP_TEXT, b'{"cmd":', fin=False), frame(OP_CONT, b"")], None),
    "unmasked frame": ([frame(OP_TEXT, b'{"cmd":"ping"}', mask=False)], None),
    "reserved bits": ([frame(OP_TEXT, b'{"cmd":"ping"}', rsv=4)], {1002}),
    "opcode 3": ([frame(3, b"x")], {1002}),
    "opcode 0xB": ([frame(0xB, b"x")], {1002}),
    "continuation without a start": ([frame(OP_CONT, b"abc")], {1002}),
    "new message inside a fragmented one": ([frame(OP_TEXT, b"{", fin=False), frame(OP_TEXT, b"}")], {1002}),
    "fragmented ping": ([frame(OP_PING, b"x", fin=False)], {1002}),
    "invalid UTF-8 text": ([frame(OP_TEXT, b'{"cmd":"\xff\xfe"}')], {1007}),
    "UTF-8 cut by a fragment end": ([frame(OP_TEXT, b'{"cmd":"\xc3', fin=False), frame(OP_CONT, b'"}')], {1007}),
    "close code 999": ([frame(OP_CLOSE, b"\x03\xe7")], {1002}),
    "close with one byte": ([frame(OP_CLOSE, b"\x03")], {1002, 1005}),
    "close code 5000": ([frame(OP_CLOSE, b"\x13\x88")], {1002, 5000}),
    "close with invalid UTF-8 reason": ([frame(OP_CLOSE, b"\x03\xe8\xff\xfe")], None),
    "ping of 125 bytes": ([frame(OP_PING, b"p" * 125)], None),
    "binary message in 50 fragments": ([frame(OP_BIN, b"ab", fin=False)] + [frame(OP_CONT, b"cd", fin=False)] * 48 +
                                       [frame(OP_CONT, b"", fin=True)], None),
}


@test
def hostile_websocket_frames():
    node = Node(config={"max_message_bytes": 65536 * 2})
    net_task(node, "t")
    for name, (frames, codes) in FRAME_CASES.items():
        for path in WS_PATHS:
            w = RawWS(node.port, path)
            for f in frames:
                w.send(f)
            # Where a close is due, wait for it; otherwise a moment for the node to read.
            code = w.close_code(timeout=(2 * SLOW) if codes else 0.2)
            w.close()
            ok = alive(node) and (codes is None or code in codes)
            check(ok, f"{name} on {path}: node alive, close {code}", (code, codes))
    # An empty text frame is a command that is not JSON: a bad_json reply, and the socket lives on.
    w = RawWS(node.port, "/m/cmd")
    w.send(frame(OP_TEXT, b""))
    r = json.loads(w.text())
    w.send(frame(OP_TEXT, b'{"cmd":"ping","id":7}'))
    r2 = json.loads(w.text())
    check(err_code(r) == "bad_json" and r2.get("pong") and r2.get("id") == 7,
          "empty text frame on /m/cmd: bad_json, then the connection still works", (r, r2))
    # After a message over 64 KiB (the receive buffer is then released), an empty frame.
    big = json.dumps({"cmd": "ping", "pad": "x" * 70000}).encode()
    w.send(frame(OP_TEXT, big))
    r = json.loads(w.text())
    w.send(frame(OP_TEXT, b""))
    r2 = json.loads(w.text())
    check(r.get("pong") and err_code(r2) == "bad_json", "a 70 KB command then an empty frame", (r, r2))
    # A command in 200 fragments.
    body = json.dumps({"cmd": "ping", "id": "frag"}).encode()
    parts = [body[i:i + 1] for i in range(len(body))]
    w.send(frame(OP_TEXT, parts[0], fin=False) + b"".join(frame(OP_CONT, p, fin=False) for p in parts[1:]) +
           frame(OP_CONT, b""))
    r = json.loads(w.text())
    check(r.get("id") == "frag" and r.get("pong"), "a command sent one byte per fragment", r)
    # Over max_message_bytes across fragments: error frame, close 1009, node alive.
    w.send(frame(OP_TEXT, b"[" * 100000, fin=False) + frame(OP_CONT, b"[" * 100000, fin=False))
    code = w.close_code()
    check(code == 1009 and alive(node), "fragments over max_message_bytes: close 1009", code)
    w.close()
    # Random frames and random bytes after the upgrade, on every path.
    rng = random.Random(1234)
    for i in range(60):
        path = WS_PATHS[i % len(WS_PATHS)]
        w = RawWS(node.port, path)
        if i % 2:
            w.send(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))))
        else:
            for _ in range(rng.randint(1, 5)):
                w.send(frame(rng.choice([0, 1, 2, 8, 9, 10, 3, 15]), bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))),
                             fin=rng.random() < 0.7, rsv=rng.choice([0, 0, 0, 1]), mask=rng.random() < 0.9))
        w.close_code(timeout=0.1)
        w.close()
    check(alive(node), "60 connections of random frames and bytes: node alive")
    node.stop()


@test
def hostile_http_requests():
    node = Node(config={"max_connections": 50})
    P = node.port
    cases = {
        "garbage instead of a request": b"\x00\xff\x16\x03\x01garbage\r\n\r\n",
        "TLS hello on the plaintext port": bytes.fromhex("16030100a5010000a10303") + os.urandom(64),
        "huge header": b"GET /m/stat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: " + b"a" * 100000 + b"\r\n\r\n",
        "2000 headers": b"GET /m/stat HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-B: b\r\n" * 2000 + b"\r\n",
        "huge URL": b"GET /m/fetch/" + b"a" * 20000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "negative Content-Length": b"POST /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
        "Content-Length not a number": b"POST /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n{}",
        "Content-Length over 2^64": b"POST /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "two Content-Lengths": b"POST /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 15\r\n\r\n{}",
        "upgrade without a key": b"GET /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "upgrade to version 8": b"GET /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        "NUL in the path": b"GET /m/st\x00at HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "percent-encoded NUL": b"GET /m/stat/%00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "query without values": b"GET /m/fetch/t?&&=&from&limit=&wait_ms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    }
    for name, data in cases.items():
        s = socket.create_connection(("127.0.0.1", P), timeout=5 * SLOW)
        try:
            s.sendall(data)
            s.recv(65536)
        except OSError:
            pass
        s.close()
        check(alive(node), f"{name}: node alive")
    # Half-sent requests (slowloris) never starve others and time out.
    slow = []
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", P), timeout=5)
        s.sendall(b"GET /m/stat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " if i % 2 else
                  b"POST /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        slow.append(s)
    check(alive(node), "40 half-sent requests: other clients are still served")
    w = WS(P, "/m/cmd")
    check(w.status == 101, "a websocket can still connect", w.status)

    def all_closed():
        for s in slow:
            s.settimeout(0.01)
            try:
                if s.recv(65536) != b"":
                    continue
            except socket.timeout:
                return False
            except OSError:
                pass
        return True
    check(wait_for(all_closed, timeout=40), "the half-sent requests time out and are closed")
    for s in slow:
        s.close()
    node.stop()


@test
def hostile_utf8_cut_at_every_length():
    """Error messages quote what the client sent, cut to a length: never inside a character."""
    node = Node()
    bad = []
    for n in range(0, 300):
        body = ('{"cmd":"' + "a" * n + 'é€😀"}').encode()
        s, r = http(node.port, "POST", "/m/cmd", body)
        if not (s == 400 and err_code(r) == "unknown_cmd"):
            bad.append((n, s, r))
    check(not bad and alive(node), "unknown command names of every length with multi-byte characters", bad[:3])
    bad = []
    for n in range(100, 140):
        s, r = node.cmd({"cmd": "status", "task_id": "b" * n + "é😀"})
        if not (s == 404 and err_code(r) == "not_found"):
            bad.append((n, s, r))
        s, r = node.cmd({"cmd": "job", "task_id": "b" * n + "éé", "payload": 1})
        if err_code(r) not in ("not_found", "bad_request"):
            bad.append((n, s, r))
    check(not bad and alive(node), "unknown task ids cut at every length", bad[:3])
    bad = []
    for n in range(50, 80):
        s, r = node.cmd({"cmd": "start", "task_id": f"u{n}", "mode": "net", "user": "u" * n + "é€"})
        if err_code(r) != "bad_request":
            bad.append((n, s, r))
        s, r = node.cmd({"cmd": "start", "task_id": f"r{n}", "mode": "net", "rlimits": {"x" * (n - 40) + "😀": 1}})
        if err_code(r) != "bad_request":
            bad.append((n, s, r))
    check(not bad and alive(node), "unknown users and rlimits cut at every length", bad[:3])
    node.stop()


@test
def hostile_worker_frames_not_utf8_after_hello():
    """A worker's frames after its hello are checked for UTF-8 by the scanner that parses them,
    not by a pass of their own: bad UTF-8 anywhere in one (in a string, outside one, cut at
    the end, an overlong form, a surrogate) still closes with 1007 and queues nothing, while
    a frame that is UTF-8 but not JSON gets an error and the channel lives on."""
    node = Node()
    net_task(node, "u8")
    cases = {
        "in an item's string": b'{"type":"put","items":[{"a":"ok"},{"a":"\xff"}]}',
        "outside any string": b'{"type":"put","data":1}\xc3\xa9\xff',
        "cut at the end": b'{"type":"put","data":"\xe2\x82',
        "an overlong form": b'{"type":"put","data":"\xc0\xaf"}',
        "a surrogate": b'{"type":"put","data":"\xed\xa0\x80"}',
        "a bare continuation byte as a key": b'{"\x80":1}',
    }
    for name, body in cases.items():
        w = RawWS(node.port, "/w/ch")
        w.send(frame(OP_TEXT, json.dumps({"type": "hello", "task_id": "u8"}).encode()))
        check(json.loads(w.text()).get("type") == "welcome", f"{name}: welcomed")
        w.send(frame(OP_TEXT, body))
        code = w.close_code(timeout=2 * SLOW)
        w.close()
        check(code == 1007 and alive(node), f"{name}: close 1007", code)
        wait_for(lambda: not node.task("u8").get("connected"))
    check(node.task("u8")["queue"]["next_seq"] == 1, "nothing of them was queued", node.task("u8")["queue"])
    w = RawWS(node.port, "/w/ch")
    w.send(frame(OP_TEXT, json.dumps({"type": "hello", "task_id": "u8"}).encode()))
    w.text()
    w.send(frame(OP_TEXT, b'{"type":"put","data":1'))
    r = json.loads(w.text())
    w.send(frame(OP_TEXT, '{"type":"put","items":[{"s":"é€😀"}]}'.encode()))
    wait_for(lambda: node.task("u8")["queue"]["next_seq"] == 2)
    s, got = http(node.port, "GET", "/m/fetch/u8?limit=1")
    check(err_code(r) == "bad_json" and got["items"][0]["data"] == {"s": "é€😀"},
          "UTF-8 that is not JSON: bad_json, and the channel then queues multi-byte text", (r, got))
    w.close()
    node.stop()


@test
def hostile_keepalive_then_upgrade_leaks_no_slot():
    node = Node(config={"max_connections": 20})
    P = node.port
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", P), timeout=10)
        s.sendall(b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        buf = b""
        while b"not_found" not in buf:
            c = s.recv(4096)
            if not c:
                break
            buf += c
        s.sendall(b"GET /m/stat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = s.recv(4096)
        s.close()
        if i == 0:
            check(head.startswith(b"HTTP/1.1 101"), "a keep-alive socket upgrades after a 404", head[:40])
    conns = wait_for(lambda: (lambda s: s if s["node"]["limits"]["connections"] <= 1 else None)(node.stat()[1]),
                     timeout=10)
    check(conns is not None, "40 keep-alive-then-upgrade sockets leave no connection counted", conns and conns["node"]["limits"])
    w = WS(P, "/m/cmd")
    check(w.status == 101 and alive(node), "clients still get in under max_connections 20", w.status)
    node.stop()


@test
def hostile_deep_and_huge_json():
    node = Node(config={"max_message_bytes": 4 << 20})
    net_task(node, "deep")
    s, r = http(node.port, "POST", "/m/cmd", b"[" * 200000)
    check(s == 400 and err_code(r) == "bad_json", "200,000 nested arrays: bad_json", (s, r))
    s, r = http(node.port, "POST", "/m/cmd", b'{"cmd":"ping","x":' + b'{"a":' * 100000 + b"1" + b"}" * 100000 + b"}")
    check(s == 400 and err_code(r) == "bad_json", "100,000 nested objects: bad_json", (s, r))
    w = Worker(node.port, "deep")
    w.send_raw(b'{"type":"put","data":' + b"[" * 10000 + b"]" * 10000 + b"}", 1)
    r = w.recv(timeout=10)
    check(isinstance(r, dict) and err_code(r) == "bad_json", "a put 10,000 levels deep: bad_json", r)
    w.send_raw(b'{"type":"put","items":[' + b",".join([b'{"n":1e999999}'] * 10) + b"]}", 1)
    w.send_raw(b'{"type":"put","data":-0.0e-99999}', 1)
    w.send_raw(b'{"type":"put","data":123456789012345678901234567890}', 1)
    check(wait_for(lambda: node.task("deep")["queue"]["len"] == 12), "out-of-range numbers in items are kept as sent",
          node.task("deep")["queue"])
    check(alive(node), "node alive after deep and huge JSON")
    node.stop()


NUMERIC_FIELDS = ["mem_limit_kb", "timeout_ms", "heartbeat_interval_ms", "second_sig_duration_ms", "exec_interval_ms",
                  "backoff_ms", "backoff_max_ms", "max_restarts", "restart_window_ms", "ping_idle_ms",
                  "ping_timeout_ms", "queue_len", "queue_bytes", "health_interval_ms", "health_timeout_ms",
                  "health_failures", "err_kill", "err_recent_ms"]
BAD_NUMBERS = [b"-1", b"1.5", b"1e400", b"-0", b"9223372036854775807", b"9223372036854775808",
               b"18446744073709551616", b'"1"', b"true", b"null", b"[]", b"{}"]


@test
def hostile_out_of_range_task_fields():
    node = Node()
    bad = []
    for f in NUMERIC_FIELDS:
        for v in BAD_NUMBERS:
            body = b'{"cmd":"start","task_id":"r","mode":"net","' + f.encode() + b'":' + v + b"}"
            s, r = http(node.port, "POST", "/m/cmd", body)
            if s == 200:
                node.cmd({"cmd": "remove", "task_id": "r"})
            elif s != 400 or err_code(r) not in ("bad_request", "bad_json"):
                bad.append((f, v, s, r))
            for cmd in ("update", "job"):
                s, r = http(node.port, "POST", "/m/cmd", b'{"cmd":"' + cmd.encode() + b'","task_id":"nope","kind":"k",'
                            b'"payload":1,"timeout_ms":' + v + b',"retries":' + v + b',"' + f.encode() + b'":' + v + b"}")
                if s not in (400, 404, 503):
                    bad.append((cmd, f, v, s, r))
    check(not bad and alive(node), "every numeric task field with out-of-range values: 400", bad[:3])
    node.stop()


@test
def hostile_cross_origin_without_token():
    node = Node(config={"allowed_origins": ["https://dash.example"], "allowed_hosts": ["edge1.lan"]})
    P = node.port
    evil = {"Origin": "http://evil.example"}
    s, r = node.cmd({"cmd": "start", "task_id": "x", "mode": "exec", "exec": ["/bin/sh", "-c", "true"]}, evil)
    check(s == 403 and err_code(r) == "unauthorized", "a foreign page's POST /m/cmd: 403", (s, r))
    s, r = http(P, "POST", "/m/cmd", b'{"cmd":"list"}', {"Origin": "http://evil.example", "Content-Type": "text/plain"})
    check(s == 403, "a text/plain POST (no preflight) from a foreign page: 403", (s, r))
    s, r = node.stat(headers=evil)
    check(s == 403, "GET /m/stat from a foreign page: 403", (s, r))
    for path in ("/m/cmd", "/w/ch", "/m/stat", "/m/fetch"):
        w = RawWS(P, path, {"Origin": "http://evil.example"})
        check(w.status == 403, f"websocket {path} from a foreign page: 403 before the upgrade", w.head[:60])
        w.close()
    w = RawWS(P, "/m/cmd", {"Origin": "null"})
    check(w.status == 403, "Origin null (a file or sandboxed page): 403", w.head[:60])
    s, r = http(P, "GET", "/m/stat", None, {"Origin": f"http://127.0.0.1:{P}"})
    check(s == 200, "the node's own origin is served", s)
    s, r = http(P, "GET", "/m/stat", None, {"Origin": "https://dash.example"})
    check(s == 200, "an origin listed in allowed_origins is served", s)
    # DNS rebinding: a name that resolves to 127.0.0.1 but is not this node's.
    st, body = raw_http(P, b"GET /m/stat HTTP/1.1\r\nHost: evil.example:%d\r\n\r\n" % P)
    check(st == 403, "Host evil.example (DNS rebinding): 403", (st, body[:100]))
    w = RawWS(P, "/m/cmd", {"Host": f"evil.example:{P}"})
    check(w.status == 403, "a websocket with Host evil.example: 403", w.head[:60])
    for host in (f"localhost:{P}", f"127.0.0.1:{P}", "edge1.lan", f"[::1]:{P}"):
        st, body = raw_http(P, b"GET /m/stat HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        check(st == 200, f"Host {host} is served", st)
    st, body = raw_http(P, b"GET /m/stat HTTP/1.1\r\nHost: 10.9.8.7\r\n\r\n")
    check(st == 403, "an address the node does not listen on: 403", st)
    w = RawWS(P, "/m/cmd")
    check(w.status == 101 and alive(node), "clients without Origin (curl, wscat, the SDK) are unaffected", w.status)
    node.stop()


@test
def hostile_cross_origin_with_token():
    node = Node(config={"operator_token": "sekret"})
    P = node.port
    evil = {"Origin": "https://app.example"}
    s, r = node.cmd({"cmd": "list"}, evil)
    check(s in (401, 403) and err_code(r) == "unauthorized", "cross-origin without the token: refused", (s, r))
    w = RawWS(P, "/w/ch", evil)
    check(w.status == 403, "cross-origin /w/ch without the token: 403", w.head[:60])
    st, body = raw_http(P, b"POST /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://app.example\r\n"
                           b"Authorization: Bearer sekret\r\nContent-Length: 14\r\n\r\n{\"cmd\":\"ping\"}")
    check(st == 200 and b"pong" in body, "cross-origin with the token: served", (st, body))
    s = socket.create_connection(("127.0.0.1", P), timeout=10)
    s.sendall(b"GET /m/stat HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://app.example\r\n"
              b"Authorization: Bearer sekret\r\n\r\n")
    head = s.recv(65536).split(b"\r\n\r\n")[0].lower()
    s.close()
    check(b"access-control-allow-origin: https://app.example" in head, "the reply lets that page read it", head)
    s = socket.create_connection(("127.0.0.1", P), timeout=10)
    s.sendall(b"OPTIONS /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://app.example\r\n"
              b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n\r\n")
    head = s.recv(65536).lower()
    s.close()
    check(head.startswith(b"http/1.1 204") and b"access-control-allow-headers: authorization" in head,
          "a CORS preflight is answered 204", head[:300])
    w = RawWS(P, "/m/stat?token=sekret", evil)
    check(w.status == 101, "a cross-origin websocket with ?token: upgraded", w.head[:60])
    node.stop()


@test
def hostile_removed_task_with_kept_job():
    """A kept job points at the task that ran it; removing the task must not leave it dangling."""
    node = Node()
    net_task(node, "jw", accept_tasks=True, kind="jk")
    w = Worker(node.port, "jw", accept_tasks=True)
    check(wait_for(lambda: node.task("jw")["state"] == "running"), "raw worker connected")
    s, r = node.cmd({"cmd": "job", "task_id": "jw", "payload": {"x": 1}, "timeout_ms": 300})
    jid = r.get("job", {}).get("job_id")
    check(s == 200 and jid, "job started", (s, r))
    check(wait_for(lambda: node.cmd({"cmd": "job_status", "job_id": jid})[1]["job"]["status"] == "timeout"),
          "the job times out (the worker never answers)")
    s, r = node.cmd({"cmd": "remove", "task_id": "jw"})
    check(s == 200, "task removed", (s, r))
    s, r = node.cmd({"cmd": "job_status", "job_id": jid})
    check(s == 200 and r["job"]["task_id"] == "jw" and r["job"]["status"] == "timeout",
          "job_status after the task is gone still names it", r)
    s, r = node.cmd({"cmd": "list"})
    check(alive(node), "node alive")
    w.close()
    node.stop()


@test
def hostile_stat_interval_out_of_range():
    node = Node()
    w = RawWS(node.port, "/m/stat?interval_ms=9223372036854776")
    first = json.loads(w.text())
    w.s.settimeout(1.0)
    extra = 0
    try:
        while True:
            w.recv_frame()
            extra += 1
    except (socket.timeout, EOFError):
        pass
    check(first.get("ok") and extra == 0, "interval_ms past 2^63 µs: one frame, then the clamped interval", extra)
    w.close()
    w = RawWS(node.port, "/m/stat?interval_ms=-5")
    code = w.close_code()
    check(code == 1008, "interval_ms=-5: error and close 1008", code)
    check(alive(node), "node alive")
    node.stop()


@test
def hostile_consumer_leaves_unconfirmed():
    """A consume=1 reader that disconnects does not take the items it was sent but never confirmed."""
    node = Node()
    net_task(node, "cq", queue_len=100)
    w = Worker(node.port, "cq")
    w.put_items([{"i": i} for i in range(10)])
    check(wait_for(lambda: node.task("cq")["queue"]["len"] == 10), "10 items queued")
    a = WS(node.port, "/m/fetch/cq?consume=1&ack=1&batch=10&from=oldest")
    got = a.recv(timeout=10)
    seqs_a = [it["seq"] for it in got.get("items", [])]
    check(seqs_a == list(range(1, 11)), "consumer A is sent all 10", got)
    a.close()
    b = WS(node.port, "/m/fetch/cq?consume=1&ack=1&batch=4&window=4&from=oldest")
    got = b.recv(timeout=10)
    seqs_b = [it["seq"] for it in got.get("items", [])]
    check(seqs_b == [1, 2, 3, 4], "A left without acking: consumer B gets the items again, window 4", got)
    c = WS(node.port, "/m/fetch/cq?consume=1&ack=1&batch=10&from=oldest")
    got_c = c.recv(timeout=10)
    check([it["seq"] for it in got_c.get("items", [])] == list(range(5, 11)), "a third consumer gets the rest", got_c)
    b.send({"type": "ack", "seq": 4})
    c.send({"type": "ack", "seq": 10})
    check(wait_for(lambda: node.task("cq")["queue"]["len"] == 0), "acked items leave the queue", node.task("cq")["queue"])
    b.close()
    c.close()
    # Without ack, an item leaves the queue once its frame is out in full.
    w.put_items([{"j": i} for i in range(5)])
    d = WS(node.port, "/m/fetch/cq?consume=1&batch=5&from=oldest")
    got = d.recv(timeout=10)
    check(len(got.get("items", [])) == 5, "a consumer without ack gets the batch", got)
    check(wait_for(lambda: node.task("cq")["queue"]["len"] == 0), "and the items are taken once sent",
          node.task("cq")["queue"])
    d.close()
    w.close()
    node.stop()
