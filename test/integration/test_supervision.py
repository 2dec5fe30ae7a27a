#!/usr/bin/env python3
"""Supervision tests: real misbehaving processes (test/helpers/sn_misbehave.c and
pyworker.py), checked through /m/stat and /proc only."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HERE, SLOW, Node, check, run_all, test, wait_for  # noqa: E402
from snclient import WS, Closed, Worker  # noqa: E402

BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))
MIS = os.path.join(BIN_DIR, "sn-misbehave")
PYWORKER = [sys.executable, os.path.join(HERE, "pyworker.py")]
FAST = {"watch_interval_ms": 50}


def running(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def until(node, task_id, pred, timeout=15):
    return wait_for(lambda: (lambda t: t if t and pred(t) else None)(node.task(task_id)), timeout=timeout)


def pids_from(path, n, timeout=10):
    def read():
        try:
            with open(path) as f:
                p = [int(x) for x in f.read().split()]
            return p if len(p) >= n else None
        except OSError:
            return None
    return wait_for(read, timeout=timeout) or []


@test
def memory_limit_restarts():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "hog", "exec": [MIS, "alloc", "4096"], "mem_limit_kb": 40000, "backoff_ms": 50})
    seen = until(node, "hog", lambda t: (t.get("mem_kb") or 0) > 4000)
    check(seen and seen["mem_kb"] > 4000, "mem_kb reports the worker's resident memory", seen and seen.get("mem_kb"))
    t = until(node, "hog", lambda t: t["restarts"] >= 1 and t["last_exit"])
    check(t and t["last_exit"]["reason"] == "memory" and t["last_exit"]["signal"] == "SIGTERM",
          "over mem_limit_kb: stopped with first_sig, reason memory, restarted", t and t["last_exit"])
    node.stop()


@test
def timeouts():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "slow", "exec": [MIS, "hang"], "timeout_ms": 300, "backoff_ms": 50})
    t = until(node, "slow", lambda t: t["last_exit"] is not None)
    dur = t and t["last_duration_ms"]
    check(t and t["last_exit"]["reason"] == "timeout", "a run over timeout_ms is stopped with reason timeout", t and t["last_exit"])
    check(dur is not None and 300 <= dur <= 300 + 2 * 50 + 400 * SLOW, "it lasted timeout_ms (within the watch interval)", dur)
    t = until(node, "slow", lambda t: t["restarts"] >= 1 and t["state"] == "running")
    check(t is not None, "and is restarted")
    node.cmd({"cmd": "remove", "task_id": "slow"})
    node.cmd({"cmd": "start", "task_id": "per", "exec": [MIS, "hang"], "timeout_ms": 150, "exec_interval_ms": 200})
    t = until(node, "per", lambda t: t["runs"] >= 3, timeout=20)
    check(t and t["restarts"] == 0 and t["last_exit"]["reason"] == "timeout" and t["state"] in ("waiting", "running"),
          "with exec_interval_ms a timed-out run is ended and the next runs after the interval", t and (t["runs"], t["restarts"], t["state"]))
    node.stop()


@test
def crash_loop_fails_after_max_restarts():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "crash", "exec": [MIS, "exit", "3"], "max_restarts": 5,
              "restart_window_ms": 10000, "backoff_ms": 20, "backoff_max_ms": 1000})
    t = until(node, "crash", lambda t: t["state"] == "failed")
    check(t and t["restarts"] == 5 and t["last_exit"]["code"] == 3 and t["last_exit"]["reason"] == "exit",
          "exiting at once with max_restarts 5: failed after exactly 5 restarts", t and (t["state"], t["restarts"], t["last_exit"]))
    time.sleep(0.3)
    t2 = node.task("crash")
    check(t2["state"] == "failed" and t2["restarts"] == 5 and t2["pid"] is None, "and stays failed")
    check("more than 5 restarts within 10000 ms" in (t2.get("failed_why") or ""), "status says why it failed", t2.get("failed_why"))
    log = node.log_text()
    delays = [int(x) for x in re.findall(r"\[crash\] restarting in (\d+) ms", log)]
    check(delays == [20, 40, 80, 160, 320], "backoff doubles: 20, 40, 80, 160, 320 ms", delays)
    stamps = re.findall(r"^(\S+) info \[crash\] spawned pid", log, re.M)
    from datetime import datetime
    ts = [datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000 for s in stamps]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    check(len(gaps) == 5 and all(g >= d - 1 for g, d in zip(gaps, delays)), "spawn timestamps in the log are that far apart", gaps)
    s, r = node.cmd({"cmd": "restart", "task_id": "crash"})
    check(s == 200 and r["task"]["state"] in ("running", "backoff") and r["task"]["runs"] == 7, "restart revives a failed task", r.get("task", {}).get("state"))
    node.stop()


@test
def stop_escalates_to_sigkill():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "deaf", "exec": [MIS, "ignore-term"], "second_sig_duration_ms": 400})
    until(node, "deaf", lambda t: any("ignoring SIGTERM" in l["line"] for l in node.cmd({"cmd": "logs", "task_id": "deaf"})[1].get("lines", [])))
    t0 = time.time()
    s, r = node.cmd({"cmd": "stop", "task_id": "deaf"})
    took = time.time() - t0
    check(s == 200 and r["task"]["last_exit"]["signal"] == "SIGKILL" and r["task"]["last_exit"]["reason"] == "command",
          "a worker ignoring SIGTERM gets SIGKILL", r.get("task", {}).get("last_exit"))
    check(0.4 <= took < 0.4 + 3 * SLOW, "after second_sig_duration_ms", took)
    node.cmd({"cmd": "start", "task_id": "hup", "exec": [MIS, "hang"], "first_sig": "SIGHUP"})
    time.sleep(0.2)
    s, r = node.cmd({"cmd": "stop", "task_id": "hup"})
    check(r["task"]["last_exit"]["signal"] == "SIGHUP", "first_sig is configurable", r["task"]["last_exit"])
    node.stop()


def tree_task(node, task_id):
    path = tempfile.mktemp(prefix="sn-tree-")
    node.cmd({"cmd": "start", "task_id": task_id, "exec": [MIS, "forktree", path]})
    pids = pids_from(path, 4)
    return pids


@test
def no_process_left_behind():
    node = Node(config=FAST)
    pids = tree_task(node, "t1")
    check(len(pids) == 4 and all(running(p) for p in pids), "a worker with children and a double-forked setsid grandchild", pids)
    s, r = node.cmd({"cmd": "stop", "task_id": "t1"})
    check(s == 200 and not [p for p in pids if running(p)], "stop: the reply comes when every process of the tree is gone", [p for p in pids if running(p)])
    pids = tree_task(node, "t2")
    node.cmd({"cmd": "remove", "task_id": "t2"})
    check(len(pids) == 4 and not [p for p in pids if running(p)], "remove: nothing left", pids)
    pids = tree_task(node, "t3")
    shim = node.task("t3")["pid"]
    os.kill(shim, signal.SIGKILL)  # even the shim dying leaves nothing behind
    t = until(node, "t3", lambda t: t["restarts"] >= 1)
    left = wait_for(lambda: not [p for p in pids if running(p)], timeout=5)
    check(left, "the shim killed: the node kills the orphaned tree", [p for p in pids if running(p)])
    pids = tree_task(node, "t4")
    node.stop("node (SIGTERM)")
    check(len(pids) == 4 and not [p for p in pids if running(p)], "node SIGTERM: nothing left", [p for p in pids if running(p)])

    node = Node(config=FAST)
    pids = tree_task(node, "t5")
    shim = node.task("t5")["pid"]
    node.proc.kill()
    node.proc.wait()
    gone = wait_for(lambda: not [p for p in pids + [shim] if running(p)], timeout=5)
    check(len(pids) == 4 and gone, "node SIGKILL: workers die with it (the shim's parent-death signal)",
          [p for p in pids + [shim] if running(p)])

    # The shim and the node die together: the node never sees SIGCHLD (it is stopped, then
    # killed), so only the worker's own parent-death signal can end it.
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "t6", "exec": [MIS, "hang"]})
    shim = node.task("t6")["pid"]
    kids = wait_for(lambda: open(f"/proc/{shim}/task/{shim}/children").read().split())
    worker = int(kids[0]) if kids else 0
    os.kill(node.proc.pid, signal.SIGSTOP)
    os.kill(shim, signal.SIGKILL)
    node.proc.kill()
    node.proc.wait()
    gone = wait_for(lambda: not running(worker), timeout=5)
    check(worker and gone, "shim and node SIGKILLed at once: the worker dies too", worker)


@test
def heartbeats():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "mute", "exec": PYWORKER + ["silent"], "heartbeat_interval_ms": 200, "backoff_ms": 50})
    node.cmd({"cmd": "start", "task_id": "alive", "exec": PYWORKER + ["hb"], "heartbeat_interval_ms": 200})
    t = until(node, "mute", lambda t: t["restarts"] >= 1 and t["last_exit"])
    check(t and t["last_exit"]["reason"] == "heartbeat", "an exec worker silent for 3 intervals is restarted (reason heartbeat)", t and t["last_exit"])
    a = node.task("alive")
    check(a["restarts"] == 0 and a["connected"], "a worker that sends hb frames is left alone", a["restarts"])
    node.cmd({"cmd": "start", "task_id": "netmute", "mode": "net", "heartbeat_interval_ms": 150})
    w = Worker(node.port, "netmute")
    msgs, code = w.recv_until_close(timeout=10 * SLOW)
    t = node.task("netmute")
    check(code == 1008 and t["state"] == "waiting" and t["last_exit"]["reason"] == "heartbeat",
          "a silent net worker is dropped and the task waits", (code, t["state"], t["last_exit"]))
    node.stop()


@test
def idle_pings():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "deafjob", "exec": PYWORKER, "accept_tasks": True, "ping_idle_ms": 100,
              "ping_timeout_ms": 100, "backoff_ms": 50})
    node.cmd({"cmd": "start", "task_id": "ponger", "exec": PYWORKER + ["pong"], "accept_tasks": True, "ping_idle_ms": 100,
              "ping_timeout_ms": 300})
    t = until(node, "deafjob", lambda t: t["restarts"] >= 1 and t["last_exit"])
    check(t and t["last_exit"]["reason"] == "ping", "3 unanswered pings in a row: restart with reason ping", t and t["last_exit"])
    time.sleep(1.0)
    p = node.task("ponger")
    check(p["restarts"] == 0 and p["connected"] and p["ping_failures"] == 0, "a worker answering pings is left alone", p)
    node.stop()


@test
def health_checks():
    node = Node(config=FAST)
    flag = tempfile.mktemp(prefix="sn-health-")
    s, r = node.cmd({"cmd": "start", "task_id": "hc", "exec": [MIS, "hang"], "health_check": [MIS, "health", flag],
                     "health_interval_ms": 100, "health_failures": 3, "backoff_ms": 50})
    t = until(node, "hc", lambda t: t["state"] == "running")
    check(t is not None, "the task runs once its health check passes")
    open(flag, "w").close()
    t = until(node, "hc", lambda t: t["restarts"] >= 1 and t["last_exit"])
    check(t and t["last_exit"]["reason"] == "health", "3 failed checks in a row: restart with reason health", t and t["last_exit"])
    t = until(node, "hc", lambda t: t["state"] == "starting")
    time.sleep(0.5)
    check(node.task("hc")["state"] == "starting", "while its check fails the new run stays starting")
    os.unlink(flag)
    t = until(node, "hc", lambda t: t["state"] == "running")
    check(t is not None, "and becomes running when it passes")
    node.cmd({"cmd": "start", "task_id": "hang", "exec": [MIS, "hang"], "health_check": [MIS, "hang"],
              "health_interval_ms": 100, "health_timeout_ms": 150})
    time.sleep(0.8)
    t = node.task("hang")
    check(t["state"] == "starting" and t["restarts"] == 0, "a hanging check is killed after health_timeout_ms and never passes", t["state"])
    node.stop()


@test
def update_without_restart_and_logs():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "u", "exec": ["/bin/sh", "-c", "for i in $(seq 1 300); do echo line$i; done; echo oops >&2; exec sleep 1000"]})
    t0 = until(node, "u", lambda t: t["pid"])
    s, r = node.cmd({"cmd": "update", "task_id": "u", "mem_limit_kb": 900000, "timeout_ms": 100000, "heartbeat_interval_ms": 0})
    t = r.get("task", {})
    check(s == 200 and t["pid"] == t0["pid"] and t["restarts"] == 0 and t["mem_limit_kb"] == 900000 and t["timeout_ms"] == 100000,
          "update changes limits of a running task without restarting it", (t.get("pid"), t0["pid"]))
    # stdout and stderr are two pipes: the node may read "oops" before the last stdout lines.
    # Wait until every line is in, then look at them.
    def all_in():
        got = [l["line"] for l in node.cmd({"cmd": "logs", "task_id": "u", "lines": 500})[1].get("lines", [])]
        return "line300" in got and "oops" in got
    wait_for(all_in)
    s, r = node.cmd({"cmd": "logs", "task_id": "u", "lines": 3})
    lines = r.get("lines", [])
    out = [l["line"] for l in lines if l["stream"] == "stdout"]
    err = [l for l in lines if l["stream"] == "stderr"]
    check(s == 200 and len(lines) == 3 and out == sorted(out, key=lambda x: int(x[4:]))[-len(out):] and
          out[-1] == "line300" and [e["line"] for e in err] == ["oops"] and
          [l["ts_ms"] for l in lines] == sorted(l["ts_ms"] for l in lines),
          "logs returns the last lines, oldest first, with the stream", lines)
    s, r = node.cmd({"cmd": "logs", "task_id": "u", "lines": 1000})
    check(len(r["lines"]) == 200 and r["lines"][0]["line"] in ("line101", "line102"), "the last 200 lines are kept",
          (len(r["lines"]), r["lines"][0]))
    s, r = node.cmd({"cmd": "logs", "task_id": "u"})
    check(len(r["lines"]) == 100, "100 lines by default")
    node.stop()


@test
def identity_and_rlimits():
    node = Node(config=FAST)
    node.cmd({"cmd": "start", "task_id": "lim", "exec": ["/bin/sh", "-c", "ulimit -n; ulimit -t; exec sleep 1000"],
              "rlimits": {"nofile": 77, "cpu_s": 33}})
    wait_for(lambda: len(node.cmd({"cmd": "logs", "task_id": "lim"})[1].get("lines", [])) >= 2)
    lines = [l["line"] for l in node.cmd({"cmd": "logs", "task_id": "lim"})[1]["lines"]]
    check(lines[:2] == ["77", "33"], "rlimits nofile and cpu_s apply to the worker", lines)
    s, r = node.cmd({"cmd": "start", "task_id": "bad", "mode": "net", "rlimits": {"stack": 1}})
    check(s == 400 and "rlimits" in r["error"]["message"], "an unknown rlimit is refused", r)
    if os.geteuid() == 0:
        node.cmd({"cmd": "start", "task_id": "who", "exec": ["/bin/sh", "-c", "id -u; exec sleep 1000"], "user": "nobody"})
        wait_for(lambda: node.cmd({"cmd": "logs", "task_id": "who"})[1].get("lines"))
        lines = [l["line"] for l in node.cmd({"cmd": "logs", "task_id": "who"})[1]["lines"]]
        import pwd
        check(lines[:1] == [str(pwd.getpwnam("nobody").pw_uid)], "user: the worker runs as that user", lines)
        uid = pwd.getpwnam("nobody").pw_uid
        node.cmd({"cmd": "start", "task_id": "whohc", "exec": ["/bin/sh", "-c", "exec sleep 1000"], "user": "nobody",
                  "rlimits": {"nofile": 50}, "health_interval_ms": 100,
                  "health_check": ["/bin/sh", "-c", f"test $(id -u) = {uid} && test $(ulimit -n) = 50"]})
        t = until(node, "whohc", lambda t: t["state"] == "running")
        check(t is not None, "its health check runs as that user, with its rlimits", node.task("whohc")["state"])
    s, r = node.cmd({"cmd": "start", "task_id": "ghost", "mode": "net", "user": "no-such-user-here"})
    check(s == 400 and "user" in r["error"]["message"], "an unknown user is refused", r)
    node.stop()


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
