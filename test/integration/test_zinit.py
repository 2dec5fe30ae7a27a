#!/usr/bin/env python3
"""The zinit backend against a real zinit peer: our own (test/helpers/zinit_peer.py, written from
zinit's documented protocol, so the repository's tests need nothing outside it), and the design
contract's ../shared/tools/zinit-standin too when it is there."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HERE, SLOW, Node, check, run_all, shared_tool, skip, test, wait_for  # noqa: E402
from snclient import WS  # noqa: E402

BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))
OWN_PEER = os.path.join(HERE, "../helpers/zinit_peer.py")
STANDIN = shared_tool("zinit-standin")


class Zinit:
    def __init__(self, d=None, protocol="jsonrpc", peer=OWN_PEER):
        self.dir = d or tempfile.mkdtemp(prefix="sn-zinit-")
        self.sock = os.path.join(self.dir, "zinit.sock")
        self.protocol, self.peer = protocol, peer
        self.start()

    def start(self):
        self.proc = subprocess.Popen([sys.executable, self.peer, "--socket", self.sock, "--config", self.dir,
                                      "--protocol", self.protocol], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.sock), timeout=10)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def call(self, method, *params):
        if self.protocol == "text":
            return self.text(method, *params)
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode())
        buf = b""
        while not buf.endswith(b"\n"):
            buf += s.recv(65536)
        s.close()
        return json.loads(buf)


    def text(self, method, *params):
        cmd = {"service_list": "list", "service_status": "status"}[method]
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        s.sendall((" ".join([cmd, *params]) + "\n").encode())
        buf = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
        s.close()
        r = json.loads(buf)
        return {"result": r["body"]} if r["state"] == "ok" else {"error": r["body"]}


def mis(*args):
    return [os.path.join(BIN_DIR, "sn-misbehave"), *args]


@test
def zinit_backend_runs_and_supervises():
    for proto in ("jsonrpc", "text"):
        print(f"  (zinit {proto} protocol, detected by the node; our zinit peer)", flush=True)
        backend_round(proto, OWN_PEER)


@test
def zinit_backend_against_the_contracts_peer():
    if STANDIN is None:
        skip("the zinit backend against ../shared/tools/zinit-standin",
             "../shared/tools is not beside this clone (set SN_SHARED_TOOLS to run it)")
        return
    for proto in ("jsonrpc", "text"):
        print(f"  (zinit {proto} protocol; the contract's zinit-standin)", flush=True)
        backend_round(proto, STANDIN)


def backend_round(proto, peer):
    z = Zinit(protocol=proto, peer=peer)
    node = Node(config={"zinit": {"mode": "backend", "socket": z.sock, "prefix": "sn-", "config_dir": z.dir,
                                  "protocol": "auto"}, "watch_interval_ms": 50})
    wait_for(lambda: node.stat()[1]["node"]["zinit"] == "connected")
    check(node.stat()[1]["node"]["zinit"] == "connected", f"the node connects to zinit ({proto})")
    check(f"speaks {'JSON-RPC' if proto == 'jsonrpc' else 'the text protocol'}" in node.log_text(), "and detects its protocol")
    s, r = node.cmd({"cmd": "start", "task_id": "zs", "exec": [os.path.join(BIN_DIR, "sensor")], "start_params": "50"})
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" and t["connected"] else None)(node.task("zs")))
    check(t and t["backend"] == "zinit" and t["zinit_state"] == "Running", "an exec task runs as a zinit service", t and (t["backend"], t["zinit_state"]))
    lst = z.call("service_list")["result"]
    check(lst.get("sn-zs") == "Running" and z.call("service_status", "sn-zs")["result"]["pid"] == t["pid"],
          "zinit lists it as sn-zs with the same pid", lst)
    f = WS(node.port, "/m/fetch/zs")
    m = f.recv(10 * SLOW)
    check(m.get("type") == "data" and m["data"]["n"] == 1, "its data flows to a fetcher", m)
    f.close()
    pid = t["pid"]
    os.kill(pid, signal.SIGKILL)
    t = wait_for(lambda: (lambda t: t if t["restarts"] >= 1 and t["state"] == "running" and t["pid"] != pid else None)(node.task("zs")))
    check(t and t["last_exit"]["signal"] == "SIGKILL" and t["last_exit"]["reason"] == "signal",
          "a crashed zinit-run worker is restarted by supernode (backoff), not by zinit", t and t["last_exit"])
    log = node.log_text()
    check("restarting in 100 ms" in log, "with supernode's backoff", "")
    s, r = node.cmd({"cmd": "logs", "task_id": "zs", "lines": 5})
    check(s == 200 and any("sensor: one reading" in l["line"] for l in r["lines"]), "logs come from zinit's log buffer", r)
    s, r = node.cmd({"cmd": "remove", "task_id": "zs"})
    gone = wait_for(lambda: "sn-zs" not in z.call("service_list")["result"] and not os.path.exists(os.path.join(z.dir, "sn-zs.yaml")))
    check(s == 200 and gone, "remove: the service is gone from zinit (forgotten and deleted)")

    # Stop escalation: first_sig through service_kill, SIGKILL after second_sig_duration_ms.
    node.cmd({"cmd": "start", "task_id": "deaf", "exec": mis("ignore-term"), "second_sig_duration_ms": 300})
    wait_for(lambda: node.task("deaf")["state"] == "running")
    time.sleep(0.2)
    t0 = time.time()
    s, r = node.cmd({"cmd": "stop", "task_id": "deaf"})
    check(s == 200 and r["task"]["last_exit"]["signal"] == "SIGKILL" and time.time() - t0 >= 0.3,
          "a zinit-run worker ignoring SIGTERM is stopped with SIGKILL after the grace period", r["task"]["last_exit"])
    # Memory and timeout rules on zinit-run workers.
    node.cmd({"cmd": "start", "task_id": "hog", "exec": mis("alloc", "4096"), "mem_limit_kb": 30000, "backoff_ms": 50})
    t = wait_for(lambda: (lambda t: t if t["last_exit"] else None)(node.task("hog")))
    check(t and t["last_exit"]["reason"] == "memory", "the memory rule fires on a zinit-run worker", t and t["last_exit"])
    node.cmd({"cmd": "start", "task_id": "slow", "exec": mis("hang"), "timeout_ms": 300, "backoff_ms": 50})
    t = wait_for(lambda: (lambda t: t if t["last_exit"] else None)(node.task("slow")))
    check(t and t["last_exit"]["reason"] == "timeout", "the timeout rule fires on a zinit-run worker", t and t["last_exit"])
    # after orders start-up.
    node.cmd({"cmd": "start", "task_id": "second", "exec": mis("hang"), "after": ["first"]})
    time.sleep(0.3)
    check(node.task("second")["state"] == "blocked" and "sn-second" not in z.call("service_list")["result"],
          "a task waiting for its dependency is blocked and not yet in zinit")
    node.cmd({"cmd": "start", "task_id": "first", "exec": mis("hang")})
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" else None)(node.task("second")))
    check(t is not None, "it starts once the dependency runs")
    node.stop()
    left = [n for n, st in z.call("service_list")["result"].items() if st == "Running"]
    check(not left, "node shutdown stops every zinit-run worker", left)
    z.stop()


@test
def zinit_text_restarts_replace_the_service_in_order():
    """Over zinit's text protocol every call is a connection of its own and service files are
    written and removed on libuv's thread pool: a restart's forget, delete and create must go one
    after the other (sent together, a delete once ran after the create, and zinit had no file to
    load). 20 crashes in a row: every restart starts."""
    for peer in (OWN_PEER, STANDIN):
        if peer is None:
            continue
        z = Zinit(protocol="text", peer=peer)
        node = Node(config={"zinit": {"mode": "backend", "socket": z.sock, "prefix": "sn-", "config_dir": z.dir,
                                      "protocol": "auto"}, "watch_interval_ms": 50})
        wait_for(lambda: node.stat()[1]["node"]["zinit"] == "connected")
        node.cmd({"cmd": "start", "task_id": "rz", "exec": [os.path.join(BIN_DIR, "sensor")], "start_params": "1000",
                  "backoff_ms": 20, "backoff_max_ms": 20, "max_restarts": 1000})
        ran = 0
        for k in range(20):
            t = wait_for(lambda: (lambda t: t if t["state"] == "running" and t["pid"] and t["restarts"] == k else None)(
                node.task("rz")), timeout=20)
            if not t:
                break
            os.kill(t["pid"], signal.SIGKILL)
            ran += 1
        log = node.log_text()
        name = "our peer" if peer == OWN_PEER else "the contract's zinit-standin"
        check(ran == 20 and "could not start the service" not in log,
              f"20 crashes, each replaced and started again ({name})",
              (ran, [l for l in log.splitlines() if "could not start" in l][:2]))
        node.stop()
        z.stop()


@test
def zinit_absent_then_back():
    d = tempfile.mkdtemp(prefix="sn-zinit-")
    sock = os.path.join(d, "zinit.sock")
    node = Node(config={"zinit": {"mode": "backend", "socket": sock}})
    s, r = node.cmd({"cmd": "start", "task_id": "z", "exec": mis("hang")})
    check(s == 503 and r["error"]["code"] == "unavailable" and sock in r["error"]["message"],
          "zinit absent: starting an exec task is unavailable, naming the socket", r)
    check(node.stat()[1]["node"]["zinit"] == "down", "/m/stat shows zinit down")
    s, r = node.cmd({"cmd": "start", "task_id": "n", "mode": "net"})
    check(s == 200, "everything else works")
    z = Zinit(d)
    wait_for(lambda: node.stat()[1]["node"]["zinit"] == "connected", timeout=15)
    s, r = node.cmd({"cmd": "start", "task_id": "z", "exec": mis("hang")})
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" else None)(node.task("z")))
    check(s == 200 and t, "once zinit is there, tasks start without a node restart", r)
    node.stop()
    z.stop()


@test
def after_names_outside_zinit_services():
    z = Zinit()
    z.call("service_create", "extdb", {"exec": "/bin/sleep 1000"})
    node = Node(config={"zinit": {"mode": "backend", "socket": z.sock}})
    wait_for(lambda: node.stat()[1]["node"]["zinit"] == "connected")
    node.cmd({"cmd": "start", "task_id": "app", "exec": mis("hang"), "after": ["zinit:extdb"]})
    time.sleep(0.5)
    check(node.task("app")["state"] == "blocked", "a task after zinit:extdb waits while that service is not running")
    z.call("service_monitor", "extdb")
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" else None)(node.task("app")))
    check(t is not None, "and starts once zinit runs it")
    content = json.load(open(os.path.join(z.dir, "sn-app.yaml")))
    check(content.get("after") == ["extdb"] and content.get("oneshot") is True, "the service file names it in after, oneshot", content)
    node.stop()
    z.stop()
    plain = Node()
    s, r = plain.cmd({"cmd": "start", "task_id": "x", "mode": "net", "after": ["zinit:redis"]})
    check(s == 400 and "zinit" in r["error"]["message"], "without the zinit backend a zinit: dependency is refused", r)
    plain.stop()


@test
def readoption_after_node_sigkill():
    for proto in ("jsonrpc", "text"):
        print(f"  (zinit {proto} protocol)", flush=True)
        readoption_round(proto)


def readoption_round(proto):
    z = Zinit(protocol=proto)
    state = tempfile.mkdtemp(prefix="sn-state-")
    cfg = {"zinit": {"mode": "backend", "socket": z.sock, "config_dir": z.dir}, "state_dir": state, "watch_interval_ms": 100}
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    listen = ["--listen", f"127.0.0.1:{port}"]  # workers reconnect to the address they were given
    node = Node(config=cfg, args=listen)
    wait_for(lambda: node.stat()[1]["node"]["zinit"] == "connected")
    node.cmd({"cmd": "start", "task_id": "keep", "exec": [os.path.join(BIN_DIR, "sensor")], "start_params": "50",
              "mem_limit_kb": 500000})
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" and t["connected"] else None)(node.task("keep")))
    pid = t and t["pid"]
    check(pid and wait_for(lambda: state_runs(state, "keep")), "the state file is written", state)
    if proto == "text":  # the node writes the service file itself: it holds the worker's token
        mode = os.stat(os.path.join(z.dir, "sn-keep.yaml")).st_mode & 0o777
        check(mode == 0o600, "the service file is readable by its owner only (0600)", oct(mode))
    node.proc.kill()  # SIGKILL: no cleanup at all
    node.proc.wait()
    check(z.call("service_status", "sn-keep")["result"]["pid"] == pid, "the zinit service outlives the node")
    node = Node(config=cfg, args=listen)
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" and t["connected"] else None)(node.task("keep")), timeout=20)
    check(t and t["pid"] == pid, "the restarted node adopts the running service: same pid", t and (t["pid"], pid))
    check(list(z.call("service_list")["result"]).count("sn-keep") == 1 and t and t["runs"] == 1 and t["restarts"] == 0,
          "no duplicate started", z.call("service_list")["result"])
    check(t and t["connected"], "the worker reconnected with its secret")
    f = WS(node.port, "/m/fetch/keep?from=new")
    m = f.recv(10 * SLOW)
    check(m.get("type") == "data", "and data flows to a fetcher again", m)
    f.close()
    os.kill(pid, signal.SIGKILL)
    t = wait_for(lambda: (lambda t: t if t["restarts"] >= 1 and t["state"] == "running" else None)(node.task("keep")))
    check(t and t["pid"] != pid, "its rules are re-armed: a crash is restarted by the new node")
    node.stop()
    z.stop()


def state_runs(state, task_id, run=True):
    """True once the state file says task_id is (or is not) meant to run."""
    try:
        with open(os.path.join(state, "supernode-state.json")) as f:
            tasks = json.load(f)["tasks"]
    except (OSError, ValueError, KeyError):
        return False
    return any(t["conf"]["task_id"] == task_id and t["run"] == run for t in tasks)


@test
def native_state_file_restores_tasks():
    # A state_dir that does not exist yet is made, parents included, for the owner only.
    state = os.path.join(tempfile.mkdtemp(prefix="sn-state-"), "a", "b")
    node = Node(config={"state_dir": state})
    check(os.path.isdir(state) and os.stat(state).st_mode & 0o777 == 0o700, "state_dir is created with its parents, 0700",
          os.path.exists(state) and oct(os.stat(state).st_mode))
    node.cmd({"cmd": "start", "task_id": "nat", "exec": mis("hang")})
    node.cmd({"cmd": "start", "task_id": "off", "mode": "net"})
    node.cmd({"cmd": "stop", "task_id": "off"})
    wait_for(lambda: node.task("nat")["state"] == "running")
    check(wait_for(lambda: state_runs(state, "nat") and state_runs(state, "off", False)), "the state file is written")
    old = node.task("nat")["pid"]
    node.proc.kill()
    node.proc.wait()
    gone = wait_for(lambda: not os.path.exists(f"/proc/{old}") or open(f"/proc/{old}/stat").read().split(") ")[1][0] == "Z")
    check(gone, "native workers die with the node (no re-adoption by design)")
    node = Node(config={"state_dir": state})
    t = wait_for(lambda: (lambda t: t if t.get("state") == "running" else None)(node.task("nat")))
    check(t and t["pid"] != old, "the state file brings the task back: started afresh", t and t.get("pid"))
    check(node.task("off").get("state") == "stopped", "a stopped task comes back stopped")
    node.stop()
    # A state_dir that cannot be made stops the node at start-up, with the reason.
    blocker = tempfile.mktemp(prefix="sn-state-file-")
    open(blocker, "w").close()
    try:
        Node(config={"state_dir": os.path.join(blocker, "sub")}).stop()
        check(False, "a state_dir that cannot be created stops the node")
    except RuntimeError as e:
        check("state_dir" in str(e), "a state_dir that cannot be created stops the node, saying why", str(e)[-300:])


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
