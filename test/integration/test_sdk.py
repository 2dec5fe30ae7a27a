#!/usr/bin/env python3
"""The C worker SDK, its example workers and supernode-ctl, against the real node."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SANITIZED, SLOW, Node, check, run_all, test, wait_for  # noqa: E402
from snclient import WS, free_port, http  # noqa: E402

BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))


def b(name):
    return os.path.join(BIN_DIR, name)




def items_of(port, task, frm="oldest", limit=10000):
    s, r = http(port, "GET", f"/m/fetch/{task}?from={frm}&limit={limit}")
    return r.get("items", []) if s == 200 else []


@test
def sensor_exec_worker_delivers():
    node = Node(config={"watch_interval_ms": 100})
    s, r = node.cmd({"cmd": "start", "task_id": "sens", "exec": [b("sensor")], "start_params": "20",
                     "health_check": [b("sensor"), "--health-check"], "health_interval_ms": 200})
    check(s == 200, "start the sensor example as an exec task", r)
    f = WS(node.port, "/m/fetch/sens")
    got = []
    while len(got) < 5:
        m = f.recv(10 * SLOW)
        if m.get("type") == "data":
            got.append(m)
    check([m["data"]["n"] for m in got] == [1, 2, 3, 4, 5] and all("temp_c" in m["data"] for m in got),
          "its readings reach a fetcher in order", [m["data"] for m in got])
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" else None)(node.task("sens")))
    check(t and t["connected"], "its --health-check (SDK probe) passes: the task is running")
    node.cmd({"cmd": "send", "task_id": "sens", "data": {"interval_ms": 5}})
    wait_for(lambda: any("interval now 5 ms" in l["line"] for l in node.cmd({"cmd": "logs", "task_id": "sens"})[1]["lines"]))
    check(any("interval now 5 ms" in l["line"] for l in node.cmd({"cmd": "logs", "task_id": "sens"})[1]["lines"]),
          "a cmd reaches the worker's callback")
    s, r = node.cmd({"cmd": "stop", "task_id": "sens"})
    check(r["task"]["last_exit"]["signal"] == "SIGTERM" or r["task"]["last_exit"]["code"] == 0, "it stops on SIGTERM", r["task"]["last_exit"])
    f.close()
    node.stop()


@test
def net_worker_reconnects_and_flushes_buffer():
    port = free_port()
    cfg = {"net_autocreate": True}
    node = Node(config=cfg, args=["--listen", f"127.0.0.1:{port}"])
    w = subprocess.Popen([b("sn-sdkworker"), f"ws://127.0.0.1:{port}/w/ch", "rc1"], stdout=subprocess.PIPE, text=True)

    def state_line():  # the next connected/disconnected line; "error: ..." lines say why a try failed
        while (line := w.stdout.readline()).startswith("error: "):
            pass
        return line.strip()
    line = state_line()
    check(line.startswith("connected dropped=0"), "the net worker connects", line)
    wait_for(lambda: len(items_of(port, "rc1")) >= 50)
    node.stop("first node")
    line = state_line()
    check(line.startswith("disconnected next="), "the worker notices the node went away", line)
    fields = dict(kv.split("=") for kv in line.split()[1:])
    time.sleep(1.0)  # ~500 puts while the node is down: the 100-item buffer overflows
    node = Node(config=cfg, args=["--listen", f"127.0.0.1:{port}"])
    line = state_line()
    check(line.startswith("connected dropped="), "it reconnects by itself to the restarted node", line)
    dropped = int(dict(kv.split("=") for kv in line.split()[1:])["dropped"])
    check(dropped > 0, "the buffer overflowed while the node was down", dropped)
    wait_for(lambda: len(items_of(port, "rc1")) >= 150)
    got = [i["data"]["i"] for i in items_of(port, "rc1")]
    first_kept = int(fields["next"]) - int(fields["buffered"]) + dropped
    check(got and got[0] == first_kept, "the first item after reconnect is the oldest the buffer kept (drop count exact)",
          (got[:3], fields, dropped))
    check(got == list(range(got[0], got[0] + len(got))), "then every item in order, none lost", got[:5])
    w.send_signal(signal.SIGTERM)
    w.wait(10)
    node.stop()


@test
def pipe_turns_lines_into_items():
    node = Node()
    s, r = node.cmd({"cmd": "start", "task_id": "seq", "exec": [b("pipe"), "--", "/bin/sh", "-c", "seq 1 1000"],
                     "restart": "on-failure", "queue_len": 5000})
    t = wait_for(lambda: (lambda t: t if t["state"] == "stopped" else None)(node.task("seq")), timeout=20)
    items = items_of(node.port, "seq")
    check(t and t["last_exit"]["code"] == 0 and [i["data"] for i in items] == list(range(1, 1001)),
          "pipe turns `seq 1 1000` into 1000 items and exits 0", (t and t["last_exit"], len(items)))
    node.cmd({"cmd": "start", "task_id": "txt", "exec": [b("pipe"), "/bin/sh", "-c", "echo hello world; echo '{\"a\":1}'"],
              "restart": "never"})
    wait_for(lambda: len(items_of(node.port, "txt")) == 2)
    check([i["data"] for i in items_of(node.port, "txt")] == ["hello world", {"a": 1}], "plain lines become strings, JSON lines stay JSON")
    # The SDK under valgrind (or ASan, in the sanitizer build): connect, batch 2000 puts, finish, close, free.
    node.cmd({"cmd": "start", "task_id": "vg", "mode": "net", "queue_len": 5000})
    wrap = [] if SANITIZED else ["valgrind", "--quiet", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=99"]
    p = subprocess.run(wrap + [b("pipe"), "--url", f"ws://127.0.0.1:{node.port}/w/ch", "--task", "vg", "--", "/bin/sh", "-c", "seq 1 2000"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and len(items_of(node.port, "vg")) == 2000,
          f"the SDK (pipe) is {'ASan/UBSan' if SANITIZED else 'valgrind'}-clean", (p.returncode, p.stderr[-1500:]))
    node.stop()


@test
def ctl_drives_a_session():
    node = Node()
    env = dict(os.environ, SUPERNODE_CTL_URL=f"http://127.0.0.1:{node.port}")
    ctl = b("supernode-ctl")

    def run(*args):
        return subprocess.run([ctl, *args], capture_output=True, text=True, env=env, timeout=30)

    p = run("start", "c1", "--exec", b("sensor"), "--start-params", "10", "--mem-limit-kb", "50000")
    check(p.returncode == 0 and "running" in p.stdout, "ctl start", p.stderr)
    p = run("--json", "status", "c1")
    t = json.loads(p.stdout)["task"]
    check(t["mem_limit_kb"] == 50000 and t["start_params"] == "10", "ctl --json status parses, fields set from flags", t.get("mem_limit_kb"))
    p = run("ls")
    check(p.returncode == 0 and "TASK" in p.stdout and "c1" in p.stdout, "ctl ls prints a table", p.stdout)
    p = run("--json", "ls")
    check(p.returncode == 0 and [x["task_id"] for x in json.loads(p.stdout)["tasks"]] == ["c1"], "ctl --json ls parses")
    wait_for(lambda: len(items_of(node.port, "c1")) >= 5)
    fp = subprocess.Popen([ctl, "fetch", "c1", "--from", "1"], stdout=subprocess.PIPE, text=True, env=env)
    lines = [json.loads(fp.stdout.readline()) for _ in range(5)]
    fp.kill()
    fp.wait()
    check([l["seq"] for l in lines] == [1, 2, 3, 4, 5] and lines[0]["data"]["n"] == 1, "ctl fetch streams JSON lines", lines[:2])
    p = run("send", "c1", '{"interval_ms":100}')
    check(p.returncode == 0, "ctl send")
    p = run("stop", "c1")
    check(p.returncode == 0 and '"stopped"' in p.stdout, "ctl stop", p.stdout[-200:])
    p = run("rm", "c1")
    check(p.returncode == 0, "ctl rm")
    p = run("status", "c1")
    check(p.returncode == 4 and "not_found" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
          "an error is one clear line and exit code 4 for not_found", (p.returncode, p.stderr))
    p = run("start", "c1", "--mode", "net")
    p = run("start", "c1", "--mode", "net")
    check(p.returncode == 5, "exit code 5 for conflict", p.returncode)
    p = subprocess.run([ctl, "--url", "http://127.0.0.1:1", "ls"], capture_output=True, text=True)
    check(p.returncode == 3 and "cannot reach" in p.stderr, "exit code 3 when the node cannot be reached", p.stderr)
    p = run("bogus")
    check(p.returncode == 2, "exit code 2 for a usage error")
    p = run("stat")
    check(p.returncode == 0 and p.stdout.startswith("node "), "ctl stat", p.stdout[:80])
    node.stop()


@test
def ctl_follows_cli_conventions():
    """Global flags anywhere, unknown flags refused by name, --help everywhere, top, completion."""
    node = Node(config={"operator_token": "ctl-tok"})
    ctl = b("supernode-ctl")
    url = f"http://127.0.0.1:{node.port}"

    def run(*args, env=None):
        return subprocess.run([ctl, *args], capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, **(env or {})))

    p = run("start", "hot", "--url", url, "--token", "ctl-tok", "--exec", "/bin/sh", "--", "-c", "while :; do :; done")
    check(p.returncode == 0, "global flags between a command's own (start ID --url U --token T --exec ...)", p.stderr)
    run("start", "cold", "--exec", "/bin/sleep", "--url", url, "--token=ctl-tok", "--queue-len", "7", "--", "1000")
    p = run("ls", "--json", "--url", url, "--token", "ctl-tok")
    ok = p.returncode == 0 and sorted(t["task_id"] for t in json.loads(p.stdout)["tasks"]) == ["cold", "hot"]
    check(ok, "ls --json after the command prints JSON, not a table", p.stdout[:100])
    p = run("ls", "--jsn", "--url", url)
    check(p.returncode == 2 and "unknown flag '--jsn'" in p.stderr, "an unknown flag is a usage error naming it", p.stderr)
    p = run("logs", "hot", "--lines", "x", "--url", url)
    check(p.returncode == 2 and "--lines" in p.stderr, "a bad value names its flag", p.stderr)
    p = run("status", "hot", "extra", "--url", url)
    check(p.returncode == 2 and "unexpected argument 'extra'" in p.stderr, "and so does an extra argument", p.stderr)
    helps = [run(cmd, "--help") for cmd in ("start", "job", "top", "fetch", "completion", "ls")]
    check(all(h.returncode == 0 and h.stdout.startswith("usage: supernode-ctl ") for h in helps),
          "--help on every command: its usage on stdout, exit 0", [h.stdout[:40] for h in helps])
    p = run("help", "top")
    check(p.returncode == 0 and "--sort" in p.stdout, "help COMMAND", p.stdout[:80])
    p = run("top", "--count", "1", "--url", url, env={"SUPERNODE_CTL_TOKEN": "ctl-tok"})
    check(p.returncode == 0 and p.stdout.splitlines()[1].startswith("TASK") and "CPU%" in p.stdout,
          "top prints the table (one frame with --count 1)", p.stdout[:300])

    def hot_on_top():
        out = run("top", "--count", "2", "--interval", "300", "--url", url, env={"SUPERNODE_CTL_TOKEN": "ctl-tok"}).stdout
        last = out.strip().split("\n\n")[-1].splitlines()
        return len(last) > 2 and last[2].startswith("hot ")
    check(wait_for(hot_on_top, timeout=20), "sorted by CPU: the spinning task first")
    p = run("top", "--count", "1", "--sort", "queue", "--url", url, env={"SUPERNODE_CTL_TOKEN": "ctl-tok"})
    check("(sorted by queue)" in p.stdout, "--sort queue")
    p = run("top", "--count", "1", "--url", url)
    check(p.returncode == 6, "without the token: exit 6 (unauthorized)", (p.returncode, p.stderr))
    p = run("metrics", "--url", url, "--token", "ctl-tok")
    check(p.returncode == 0 and "supernode_task_state{" in p.stdout, "ctl metrics prints the Prometheus page")
    script = run("completion", "bash").stdout
    probe = subprocess.run(["bash", "-c", script + f"""
COMP_WORDS=({ctl} st); COMP_CWORD=1; _supernode_ctl; echo "${{COMPREPLY[*]}}"
COMP_WORDS=({ctl} --url {url} --token ctl-tok stop ''); COMP_CWORD=6; _supernode_ctl; echo "${{COMPREPLY[*]}}"
COMP_WORDS=({ctl} top --s); COMP_CWORD=2; _supernode_ctl; echo "${{COMPREPLY[*]}}"
"""], capture_output=True, text=True, timeout=30).stdout.splitlines()
    check(probe[:1] == ["start stop status stat"] and sorted(probe[1].split()) == ["cold", "hot"] and probe[2] == "--sort",
          "bash completion: commands, the node's task ids, flags", probe)
    node.stop()


@test
def documented_worker_compiles_against_the_installed_sdk():
    import re
    import tempfile
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
    build = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))
    prefix = tempfile.mkdtemp(prefix="sn-prefix-")
    p = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, text=True)
    check(p.returncode == 0, "cmake --install installs the SDK", p.stderr[-500:])
    doc = open(os.path.join(root, "docs/worker-sdk.md")).read()
    code = re.search(r"```c\n(.*?)```", doc, re.S).group(1)
    check(len(code.strip().splitlines()) <= 35, "the documented worker is about 30 lines", len(code.splitlines()))
    src = os.path.join(prefix, "counter.c")
    open(src, "w").write(code)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib/pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "supernode-worker"], capture_output=True, text=True, env=env)
    out = os.path.join(prefix, "counter")
    san = "-fsanitize=address,undefined" if SANITIZED else ""
    p = subprocess.run(f"cc {san} {src} -o {out} {flags.stdout.strip()} -Wl,-rpath,{prefix}/lib", shell=True, capture_output=True, text=True)
    check(flags.returncode == 0 and p.returncode == 0, "it compiles with cc $(pkg-config --cflags --libs supernode-worker)", p.stderr[-800:])
    if p.returncode != 0:
        return
    node = Node()
    node.cmd({"cmd": "start", "task_id": "counter", "exec": [out], "health_check": [out, "--health-check"], "health_interval_ms": 200})
    wait_for(lambda: len(items_of(node.port, "counter")) >= 3)
    node.cmd({"cmd": "send", "task_id": "counter", "data": {"reset": True}})
    check([i["data"]["n"] for i in items_of(node.port, "counter")][:3] == [0, 1, 2], "and runs as a worker")
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" else None)(node.task("counter")))
    check(t is not None, "its --health-check passes")
    node.stop()


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
