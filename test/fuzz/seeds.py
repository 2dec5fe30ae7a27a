#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into corpus/<target>/: frames, replies and
files as the node meets them (taken from the integration tests, zinit's and Redis's
protocols, and conf/). Run it again after changing what a target reads."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "../..")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def resp(x):
    if x is None:
        return b"$-1\r\n"
    if isinstance(x, int):
        return b":%d\r\n" % x
    if isinstance(x, list):
        return b"*%d\r\n" % len(x) + b"".join(resp(e) for e in x)
    b = x.encode() if isinstance(x, str) else x
    return b"$%d\r\n%s\r\n" % (len(b), b)


def ws_frame(op, payload, fin=True):
    b = payload.encode() if isinstance(payload, str) else payload
    n = len(b)
    h = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        h += bytes([n])
    elif n < 65536:
        h += bytes([126]) + struct.pack("!H", n)
    else:
        h += bytes([127]) + struct.pack("!Q", n)
    return h + b


frames = {
    "put1": '{"type":"put","data":{"t":21.5,"unit":"C"}}',
    "items": '{"type":"put","items":[{"i":0},{"i":1,"s":"\\u00e9\\ud83d\\ude00"},[1,2.5e-3,null,true],"x"]}',
    "hb": '{"type":"hb"}',
    "log": '{"type":"log","level":"warn","msg":"disk at 91%"}',
    "pong": '{"type":"pong","job_id":"ping-0a1b2c3d"}',
    "result": '{"type":"result","job_id":"j-0123456789ab","ok":true,"output":{"x":1}}',
    "error": '{"type":"result","job_id":"j-0123456789ab","ok":false,"error":"boom"}',
    "partial": '{"type":"partial","job_id":"j-0123456789ab","data":{"progress":0.5}}',
    "deep": '{"type":"put","data":' + "[" * 40 + "]" * 40 + "}",
}
for k, v in frames.items():
    put("jscan", k, v)
    put("wch", "f_" + k, b"\x00" + v.encode())
put("wch", "hello", b"\x01" + b'{"type":"hello","task_id":"cam1","token":"abc","pid":4242,"kind":"echo","accept_tasks":true}')
put("wch", "probe", b"\x01" + b'{"type":"hello","task_id":"t:1","probe":true}')
put("wch", "max_jobs", b"\x01" + b'{"type":"hello","task_id":"w2","accept_tasks":true,"max_jobs":1024}')

cmds = [
    {"cmd": "start", "task_id": "cam1", "mode": "net", "queue_len": 5000},
    {"cmd": "start", "task_id": "s1", "exec": ["/bin/sh", "-c", "sleep 1"], "env": {"A": "1"}, "cwd": "/tmp",
     "mem_limit_kb": 50000, "timeout_ms": 1000, "heartbeat_interval_ms": 100, "first_sig": "SIGINT",
     "second_sig_duration_ms": 500, "exec_interval_ms": 5000, "restart": "on-failure", "backoff_ms": 20,
     "backoff_max_ms": 320, "max_restarts": 5, "restart_window_ms": 60000, "accept_tasks": True, "kind": "echo",
     "ping_idle_ms": 1000, "ping_timeout_ms": 200, "health_check": ["/bin/true"], "health_interval_ms": 100,
     "after": ["cam1", "zinit:redis"], "rlimits": {"nofile": 64, "nproc": 32, "cpu_s": 10}, "queue_bytes": 1000000,
     "start_params": "200", "err_kill": 3, "err_recent_ms": 1000},
    {"cmd": "update", "task_id": "cam1", "queue_len": 10, "id": 7},
    {"cmd": "job", "kind": "echo", "payload": {"x": 1}, "wait": True, "timeout_ms": 300, "retries": 2},
]
for i, c in enumerate(cmds):
    put("cmd", f"cmd{i}", json.dumps(c))
for name in ("supernode.json", "kinds-scripts.json"):
    with open(os.path.join(ROOT, "conf", name), "rb") as f:
        put("config", name, f.read())
put("config", "lists", json.dumps({"allowed_origins": ["https://dash.example"], "allowed_hosts": ["edge1.lan"],
                                   "exec_allow": ["/usr/bin/*", "/bin/sh"], "listen": "[::1]:0"}))

urls = [("/m/fetch/cam1", "from=oldest", "127.0.0.1:7700", "http://127.0.0.1:7700"),
        ("/m/fetch", "batch=100", "localhost:7700", "https://dash.example"),
        ("/m/stat", "interval_ms=9223372036854776", "[::1]:7700", "null"),
        ("/w/ch", "token=abc", "evil.example:7700", "http://evil.example"),
        ("/m/fetch/t", "from=18446744073709551615", "edge1.lan", "")]
for i, u in enumerate(urls):
    put("url", f"u{i}", "\0".join(u))

zs = {
    "rpc_status": b"\x00" + json.dumps({"jsonrpc": "2.0", "id": 3, "result": {"name": "sn-t", "pid": 812, "state": "Running",
                                                                          "target": "Up", "after": {}}}).encode(),
    "rpc_error": b"\x00" + json.dumps({"jsonrpc": "2.0", "id": 4, "error": {"code": -32007, "message": "exists"}}).encode(),
    "text_ok": b"\x01" + json.dumps({"state": "ok", "body": {"name": "sn-t", "pid": 9, "state": "Success"}}).encode(),
    "text_err": b"\x01" + json.dumps({"state": "error", "body": "service sn-t not found"}).encode(),
    "logs": b"\x02[+] sn-task: hello\n[-] sn-task: oops \xff\n[+] other: x\n",
    "exited": b"\x03Error(Exited(Pid(812), 3))",
    "signaled": b"\x03Error(Signaled(Pid(812), SIGKILL, false))",
}
for k, v in zs.items():
    put("zinit", k, v)

put("redis", "hgetall", resp(["id", "j-1", "script_type", "echo", "script", '{"x":1}', "status", "dispatched",
                              "timeout", "30", "caller_id", "c", "context_id", "x", "created_at", "1700000000"]))
put("redis", "brpop", resp(["hero:work_queue:echo", "j-1"]))
put("redis", "message", resp(["message", "supernode:job_done", "j-1"]))
put("redis", "mixed", resp([1, None, ["a", 2], "x"]) + b"-ERR wrong type\r\n+OK\r\n")

put("sdk", "welcome", ws_frame(1, json.dumps({"type": "welcome", "task_id": "t", "start_params": "5",
                                              "heartbeat_interval_ms": 1000})))
put("sdk", "job", ws_frame(1, json.dumps({"type": "job", "job_id": "j-1", "payload": {"x": 1}, "timeout_ms": 30000})))
put("sdk", "frag", ws_frame(1, '{"type":"cmd",', fin=False) + ws_frame(9, "p") + ws_frame(0, '"data":[1]}'))
put("sdk", "misc", ws_frame(1, '{"type":"ping","job_id":"ping-1"}') + ws_frame(1, '{"type":"cancel","job_id":"j-1"}') +
    ws_frame(1, '{"type":"error","error":{"code":"bad_json","message":"x"}}') + ws_frame(8, b"\x03\xe8"))

# /proc/<pid>/stat lines: the kernel's format, with command names a worker could give itself.
stat_tail = " S 1 812 812 0 -1 4194560 1057 0 0 0 12 3 0 0 20 0 1 0 4242 9895936 812 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
for i, name in enumerate(["sleep", "a) b", ") R 1 2 3", "((", " ", "x" * 15]):
    put("proc", f"stat{i}", f"4242 ({name}){stat_tail}")
put("proc", "zombie", "4242 (w) Z 1 812 812 0 -1 4227148 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")
