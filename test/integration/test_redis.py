#!/usr/bin/env python3
"""The Redis mirror with a real redis-server: Hero job keys, shared work queues
across two nodes, task state, and surviving Redis restarts."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, Node, Redis, check, run_all, test, wait_for  # noqa: E402
from snclient import http  # noqa: E402

BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))


def b(name):
    return os.path.join(BIN_DIR, name)


def connected_node(r, node_id):
    """A node on Redis r, once it says it is connected."""
    node = Node(config={"redis_url": r.url, "node_id": node_id})
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected")
    return node


def echo_worker(node, task_id, prog="echo_job"):
    node.cmd({"cmd": "start", "task_id": task_id, "kind": "echo" if prog == "echo_job" else "sleep", "accept_tasks": True,
              "exec": [b(prog)], "backoff_ms": 100})
    wait_for(lambda: node.task(task_id).get("connected"))


@test
def workers_inherit_no_node_socket():
    """hiredis opens its sockets without close-on-exec: a worker could read the blocking pop and
    steal jobs. Workers and health checks get stdin, stdout and stderr only."""
    r = Redis()
    node = connected_node(r, "nF")
    echo_worker(node, "e1")  # so that the blocking pop is armed
    fds = 'import os; print("fds", sorted(int(f) for f in os.listdir("/proc/self/fd")))'
    node.cmd({"cmd": "start", "task_id": "fd", "exec": [sys.executable, "-c", fds + "; import time; time.sleep(1000)"],
              "health_check": ["/bin/sh", "-c", "test $(ls /proc/$$/fd | wc -l) -le 4"], "health_interval_ms": 200})
    lines = wait_for(lambda: [l["line"] for l in node.cmd({"cmd": "logs", "task_id": "fd"})[1].get("lines", [])
                              if l["line"].startswith("fds")])
    check(lines == ["fds [0, 1, 2, 3]"], "a worker holds only 0, 1, 2 (3 is its listing of /proc/self/fd)", lines)
    t = wait_for(lambda: (lambda t: t if t["state"] == "running" else None)(node.task("fd")), timeout=15)
    check(t is not None, "its health check (run like the worker) sees no socket of the node either")
    node.stop()
    r.stop()


@test
def hero_keys_and_redis_cli_jobs():
    r = Redis()
    node = connected_node(r, "nA")
    check(node.stat()[1]["node"]["redis"] == "connected", "the node connects to redis")
    echo_worker(node, "e1")
    s, res = node.cmd({"cmd": "job", "kind": "echo", "payload": {"q": 42}, "wait": True, "caller_id": "cli"})
    j = res.get("job", {})
    check(j.get("status") == "finished" and j.get("output") == {"q": 42}, "a job with wait returns the output (through redis)", res)
    h = wait_for(lambda: (lambda h: h if h.get("status") == "finished" else None)(r.hgetall(f"hero:job:{j['job_id']}")))
    check(h and h["sn_status"] == "finished" and json.loads(h["output"]) == {"q": 42} and h["script_type"] == "echo"
          and h["worker_id"] == "nA:e1" and h["caller_id"] == "cli" and json.loads(h["script"]) == {"q": 42},
          "hero:job:{id} shows finished, the output and the Hero fields", h)
    check(json.loads(r.cli("LINDEX", f"hero:reply:{j['job_id']}", "0") or "null") == {"q": 42}, "hero:reply:{id} holds the result")
    check(int(r.cli("TTL", f"hero:reply:{j['job_id']}")) > 0, "and expires")
    r.cli("HSET", "hero:job:cli-1", "id", "cli-1", "script_type", "echo", "script", "plain text", "timeout", "10")
    r.cli("LPUSH", "hero:work_queue:echo", "cli-1")
    h = wait_for(lambda: (lambda h: h if h.get("status") == "finished" else None)(r.hgetall("hero:job:cli-1")))
    check(h and h.get("output") == '"plain text"' and r.cli("LINDEX", "hero:reply:cli-1", "0") == '"plain text"',
          "a job written by redis-cli alone (hash + LPUSH) is run and answered", h)
    t = r.hgetall("supernode:nA:task:e1")
    check(t.get("state") == "running" and r.cli("SISMEMBER", "supernode:nA:tasks", "e1") == "1" and r.cli("HEXISTS", "supernode:nodes", "nA") == "1",
          "task state and the node heartbeat are in redis", t)
    node.stop()
    r.stop()


@test
def redis_restart_mid_run():
    r = Redis()
    node = Node(config={"redis_url": r.url, "node_id": "nR"})
    node.cmd({"cmd": "start", "task_id": "n1", "mode": "net"})
    from snclient import Worker
    w = Worker(node.port, "n1")
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected")
    r.stop()
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "down")
    check(node.stat()[1]["node"]["redis"] == "down", "redis stopped: the node reports it down")
    w.put_items([{"k": i} for i in range(10)])
    s, res = http(node.port, "GET", "/m/fetch/n1?limit=100")
    check(s == 200 and len(res["items"]) == 10, "puts and fetches go on while redis is down")
    node.cmd({"cmd": "start", "task_id": "x2", "exec": ["/bin/sh", "-c", "exit 1"], "backoff_ms": 50, "max_restarts": 2})
    wait_for(lambda: node.task("x2")["state"] == "failed")
    s, res = node.cmd({"cmd": "job", "kind": "nothere", "payload": 1})
    check(s == 503 and res["error"]["code"] == "unavailable", "a job that needs redis: unavailable", res)
    r.start()
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected", timeout=15)

    def rewritten():
        ok = True
        for tid in ("n1", "x2"):
            h, t = r.hgetall(f"supernode:nR:task:{tid}"), node.task(tid)
            ok &= h.get("state") == t["state"] and h.get("restarts") == str(t["restarts"]) and \
                h.get("queue_len") == str(t["queue"]["len"])
        return ok
    check(wait_for(rewritten), "after redis is back the node rewrites its state: task hashes match /m/stat",
          (r.hgetall("supernode:nR:task:x2"), node.task("x2")["state"]))
    w.close()
    node.stop()
    r.stop()


def job_thread(node, body, out, key):
    import threading
    def run():
        try:
            out[key] = node.cmd(body)
        except OSError as e:  # the node was stopped under a waiting job: the test checks out
            out[key] = (None, {"error": str(e)})
    th = threading.Thread(target=run)
    th.start()
    return th


@test
def mixed_kinds_take_jobs_at_once():
    """Pools of fast and slow kinds: a job of a kind with a free worker is taken from Redis the
    moment it arrives, whatever the other kinds do (it once waited for a 1 s blocking pop on the
    other kinds' queues: 160 echo jobs at 16 in flight took 12 s)."""
    r = Redis()
    cfg = {"redis_url": r.url, "node_id": "nM", "kinds": {"echo": {"exec": [b("echo_job")], "min": 2, "max": 2},
                                                          "sleep": {"exec": [b("sleep_job")], "min": 4, "max": 4},
                                                          "clock": {"exec": [b("sleep_job")], "min": 1, "max": 1}}}
    node = Node(config=cfg)
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected")
    check(wait_for(lambda: sum(1 for t in node.stat()[1]["tasks"] if t["connected"]) == 7, timeout=20),
          "pools: 2 echo, 4 sleep (idle: their queue is always watched) and a clock")
    # A long job of a third kind is the clock.
    slow, out = 10000 * SLOW, {}
    clock = job_thread(node, {"cmd": "job", "kind": "clock", "payload": slow, "wait": True, "timeout_ms": 3 * slow},
                       out, "clock")
    check(wait_for(lambda: any(t["busy"] for t in node.stat()[1]["tasks"] if t["kind"] == "clock")),
          "the clock job runs")
    n = 200 if SLOW == 1 else 40
    done = 0
    for i in range(n):
        s, res = node.cmd({"cmd": "job", "kind": "echo", "payload": i, "wait": True})
        done += res.get("job", {}).get("output") == i
    import threading
    per = 20 if SLOW == 1 else 4
    results = []

    def client(k):  # one of 16 clients, each with one job in flight at a time
        for i in range(per):
            s, res = node.cmd({"cmd": "job", "kind": "echo", "payload": [k, i], "wait": True})
            results.append(res.get("job", {}).get("output") == [k, i])
    ths = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120 * SLOW)
    still = "clock" not in out
    check(done == n and sum(results) == 16 * per and still,
          f"{n} echo jobs one at a time, then {16 * per} at 16 in flight, all done while a 10 s job of a third kind runs",
          (done, sum(results), still))
    node.stop()
    clock.join(10 * SLOW)
    r.stop()


@test
def a_dead_nodes_jobs_finish_elsewhere():
    """A job is in some list at every moment: taken with BLMOVE into hero:processing:{node}, it
    goes back to its queue when that node dies, and runs on another, counting a retry."""
    r = Redis()
    a = Node(config={"redis_url": r.url, "node_id": "nodeA"})
    bn = Node(config={"redis_url": r.url, "node_id": "nodeB"})
    for n in (a, bn):
        wait_for(lambda: n.stat()[1]["node"]["redis"] == "connected")
    echo_worker(a, "a1", "sleep_job")
    echo_worker(a, "a2", "sleep_job")
    out = {}
    threads = [job_thread(bn, {"cmd": "job", "kind": "sleep", "payload": 60000, "wait": True, "timeout_ms": 120000,
                               "retries": 2}, out, i) for i in range(2)]
    check(wait_for(lambda: r.cli("LLEN", "hero:processing:nodeA") == "2"), "node A took both jobs into its processing list",
          r.cli("LLEN", "hero:processing:nodeA"))
    check(wait_for(lambda: a.task("a1")["busy"] and a.task("a2")["busy"]), "and runs them")
    ids = r.cli("LRANGE", "hero:processing:nodeA", "0", "-1").split()
    a.proc.kill()  # SIGKILL: node A's workers die with it; its jobs are in nobody's hands but Redis's
    a.proc.wait()
    a.log.close()
    echo_worker(bn, "b1", "sleep_job")
    echo_worker(bn, "b2", "sleep_job")
    started = wait_for(lambda: bn.task("b1")["busy"] and bn.task("b2")["busy"], timeout=20)
    check(started, "node B takes them once node A has missed 3 heartbeats")
    check(r.cli("EXISTS", "hero:processing:nodeA") == "0" and r.cli("HEXISTS", "supernode:nodes", "nodeA") == "0",
          "node A's processing list and heartbeat are gone")
    h = [r.hgetall(f"hero:job:{i}") for i in ids]
    check(all(x.get("sn_retries") == "1" for x in h), "each counted one retry (2 -> 1)", [x.get("sn_retries") for x in h])
    bn.stop("node B")
    for th in threads:
        th.join(10 * SLOW)
    r.stop()


@test
def jobs_survive_redis_restarted_empty():
    """Redis restarted without persistence: the node that submitted a job still waiting writes it
    and queues it again; the node running one keeps it in its processing list; each waiter gets
    exactly one reply."""
    r = Redis()
    node = connected_node(r, "nE")
    echo_worker(node, "run1", "sleep_job")
    out = {}
    t_wait = job_thread(node, {"cmd": "job", "kind": "later", "payload": 7, "wait": True, "timeout_ms": 120000}, out, "w")
    t_run = job_thread(node, {"cmd": "job", "kind": "sleep", "payload": 3000, "wait": True, "timeout_ms": 120000}, out, "r")
    check(wait_for(lambda: r.cli("LLEN", "hero:work_queue:later") == "1" and node.task("run1")["busy"]),
          "one job waits in redis for a worker, one runs here")
    r.stop()
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "down")
    r.start()  # empty: no persistence
    check(wait_for(lambda: r.cli("LLEN", "hero:work_queue:later") == "1", timeout=20),
          "the waiting job is written and queued again", r.cli("KEYS", "*"))
    node.cmd({"cmd": "start", "task_id": "l1", "kind": "later", "accept_tasks": True, "exec": [b("echo_job")]})
    t_wait.join(60 * SLOW)
    t_run.join(60 * SLOW)
    w, rr = out.get("w", (0, {}))[1].get("job", {}), out.get("r", (0, {}))[1].get("job", {})
    check(w.get("status") == "finished" and w.get("output") == 7, "the waiting job ran once a worker came", w)
    check(rr.get("status") == "finished", "the running job finished and was answered", rr)
    check(wait_for(lambda: r.cli("LLEN", "hero:processing:nE") == "0"), "nothing is left in the processing list")
    node.stop()
    r.stop()


@test
def a_stalled_redis_costs_bounded_memory():
    """Redis stopped with TCP up (SIGSTOP): writes wait for replies that never come. The node drops
    data and task-state writes past a byte bound, refuses new jobs past another, notices the
    stall by a reply deadline, and is whole again when Redis resumes."""
    from snclient import Worker
    r = Redis()
    node = Node(config={"redis_url": r.url, "node_id": "nS", "mirror_data": True, "max_message_bytes": 1 << 20})
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected")
    node.cmd({"cmd": "start", "task_id": "d", "mode": "net", "queue_len": 1000})
    w = Worker(node.port, "d")
    r.proc.send_signal(signal.SIGSTOP)
    rss0 = node.rss_kb()
    pad = "x" * 1000
    total = 40000 if SLOW == 1 else 8000
    for k in range(0, total, 200):  # 40 MB of items, each mirrored to a stream
        w.put_items([{"k": k + i, "pad": pad} for i in range(200)])
    check(wait_for(lambda: node.task("d")["queue"]["next_seq"] == total + 1, timeout=60), "puts go on while redis is stopped")
    if SLOW == 1:
        check(node.rss_kb() - rss0 < 30000, "the writes waiting for redis stay bounded in bytes", (rss0, node.rss_kb()))
    check(wait_for(lambda: node.stat()[1]["node"]["redis"] == "down", timeout=20),
          "no reply within the deadline: the node says redis is down")
    s, res = node.cmd({"cmd": "job", "kind": "nowhere", "payload": 1})
    check(s == 503 and res["error"]["code"] == "unavailable", "a job that needs redis meanwhile: unavailable", res)
    r.proc.send_signal(signal.SIGCONT)
    check(wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected", timeout=30), "redis resumes: connected again")
    echo_worker(node, "e1")
    s, res = node.cmd({"cmd": "job", "kind": "echo", "payload": 5, "wait": True})
    check(res.get("job", {}).get("output") == 5, "and jobs run through it again", res)
    w.close()
    node.stop()
    r.stop()


@test
def a_job_that_ends_while_redis_stalls_is_written_once_it_resumes():
    """A job ends while Redis is stopped with TCP up (SIGSTOP): its end waits in the socket, the
    reply deadline passes and the node reconnects. Once Redis resumes the end is there, once:
    the hash finished, one reply, the processing list empty, the waiter answered."""
    r = Redis()
    node = connected_node(r, "nST")
    echo_worker(node, "s1", "sleep_job")
    out = {}
    th = job_thread(node, {"cmd": "job", "kind": "sleep", "payload": 1500, "wait": True, "timeout_ms": 120000}, out, "w")
    check(wait_for(lambda: node.task("s1")["busy"]), "the job runs")
    r.proc.send_signal(signal.SIGSTOP)
    check(wait_for(lambda: node.task("s1")["jobs_done"] == 1, timeout=30), "it ends while redis is stopped")
    check(wait_for(lambda: node.stat()[1]["node"]["redis"] == "down", timeout=30), "the reply deadline passes: redis down")
    r.proc.send_signal(signal.SIGCONT)
    check(wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected", timeout=30), "redis resumes: connected again")
    th.join(60 * SLOW)
    job = out.get("w", (0, {}))[1].get("job", {})
    check(job.get("status") == "finished", "the waiter got the end", out.get("w"))
    jid = job.get("job_id", "")
    check(wait_for(lambda: r.hgetall(f"hero:job:{jid}").get("sn_status") == "finished", timeout=30),
          "the hash says finished", r.hgetall(f"hero:job:{jid}"))
    check(r.cli("LLEN", f"hero:reply:{jid}") == "1", "one reply, not two", r.cli("LRANGE", f"hero:reply:{jid}", "0", "-1"))
    check(wait_for(lambda: r.cli("LLEN", "hero:processing:nST") == "0"), "and the id is in no list")
    check(node.task("s1")["jobs_done"] == 1, "it ran once", node.task("s1")["jobs_done"])
    node.stop()
    r.stop()


@test
def two_nodes_share_work():
    r = Redis()
    a = Node(config={"redis_url": r.url, "node_id": "nodeA"})
    bnode = Node(config={"redis_url": r.url, "node_id": "nodeB"})
    for n in (a, bnode):
        wait_for(lambda: n.stat()[1]["node"]["redis"] == "connected")
    echo_worker(bnode, "b1")
    echo_worker(bnode, "b2")
    ids = []
    for i in range(1000 // (4 if SLOW > 1 else 1)):
        s, res = a.cmd({"cmd": "job", "kind": "echo", "payload": {"n": i}})
        ids.append(res.get("job", {}).get("job_id"))
    check(all(ids), "node A accepts 1000 jobs of a kind only node B serves")

    def all_done():
        return all(a.cmd({"cmd": "job_status", "job_id": j})[1]["job"]["status"] == "finished" for j in ids[-5:]) and \
            a.stat()[1]["node"]["jobs"]["done"] >= len(ids)
    check(wait_for(all_done, timeout=60), "they all finish, and node A learns it", a.stat()[1]["node"]["jobs"])
    workers = {r.hgetall(f"hero:job:{j}").get("worker_id", "").split(":")[0] for j in ids[::50]}
    check(workers == {"nodeB"}, "they ran on node B", workers)
    s, res = a.cmd({"cmd": "job", "kind": "echo", "payload": "w", "wait": True})
    check(res.get("job", {}).get("output") == "w", "a job with wait on A returns B's output", res)
    # Failover across a dying worker: a slow job on B whose worker is killed finishes on another.
    echo_worker(bnode, "s1", "sleep_job")
    echo_worker(bnode, "s2", "sleep_job")
    import threading
    out = {}
    th = threading.Thread(target=lambda: out.update(r=a.cmd({"cmd": "job", "kind": "sleep", "payload": 800, "wait": True})))
    th.start()
    victim = wait_for(lambda: next((t for t in ("s1", "s2") if bnode.task(t)["busy"]), None))
    os.kill(bnode.task(victim)["pid"], signal.SIGKILL)
    th.join(30 * SLOW)
    j = out.get("r", (0, {}))[1].get("job", {})
    check(j.get("status") == "finished", "killing B's worker mid-job: the job finishes on another worker", (victim, j))
    a.stop("node A")
    bnode.stop("node B")
    r.stop()


@test
def data_mirror_stream():
    r = Redis()
    node = Node(config={"redis_url": r.url, "node_id": "nD", "mirror_data": True})
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected")
    node.cmd({"cmd": "start", "task_id": "d1", "mode": "net", "queue_len": 5})
    from snclient import Worker
    w = Worker(node.port, "d1")
    w.put_items([{"v": i} for i in range(10)])
    w.send(b"\x00\x01\xff")
    ok = wait_for(lambda: "AAH/" in r.cli("XRANGE", "supernode:nD:data:d1", "-", "+"))
    out = r.cli("XRANGE", "supernode:nD:data:d1", "-", "+")
    check(ok and '{"v": 9}' in out and "seq" in out and "AAH/" in out, "mirror_data: items go to the task's stream, binary as base64", out[-300:])
    n = int(r.cli("XLEN", "supernode:nD:data:d1"))
    check(5 <= n <= 11, "trimmed near queue_len (MAXLEN ~)", n)
    w.close()
    node.stop()
    r.stop()


@test
def redis_absent_at_start():
    node = Node(config={"redis_url": "redis://127.0.0.1:1", "node_id": "nX"})
    s, r = node.cmd({"cmd": "ping"})
    check(s == 200 and node.stat()[1]["node"]["redis"] == "down", "redis absent: the node starts and serves, redis down")
    node.stop()


@test
def a_worker_with_room_for_many_takes_them_in_one_go():
    """A worker with max_jobs 8: the node moves 8 queued ids into its processing list (one
    script, not one BLMOVE each), runs them at once, and each job is answered exactly once."""
    from snclient import Worker
    r = Redis()
    node = connected_node(r, "nM")
    node.cmd({"cmd": "start", "task_id": "mt", "mode": "net", "kind": "mt", "accept_tasks": True})
    ids = [f"mt-{k}" for k in range(20)]
    for k, jid in enumerate(ids):
        r.cli("HSET", f"hero:job:{jid}", "id", jid, "script_type", "mt", "script", str(k), "timeout", "60")
        r.cli("LPUSH", "hero:work_queue:mt", jid)
    w = Worker(node.port, "mt", accept_tasks=True, max_jobs=8)
    got = [w.recv(timeout=10) for _ in range(8)]
    check([m["job_id"] for m in got] == ids[:8], "the 8 oldest arrive before any is answered, in order",
          [m.get("job_id") for m in got])
    check(r.cli("LLEN", "hero:processing:nM") == "8" and r.cli("LLEN", "hero:work_queue:mt") == "12",
          "8 ids sit in the node's processing list, 12 stay queued",
          (r.cli("LLEN", "hero:processing:nM"), r.cli("LLEN", "hero:work_queue:mt")))
    stats = r.cli("INFO", "commandstats")
    blmoves = next((int(l.split("calls=")[1].split(",")[0]) for l in stats.splitlines() if l.startswith("cmdstat_blmove:")), 0)
    check(blmoves == 0, "taken in one script: no BLMOVE while ids were queued", blmoves)
    done = 0
    pending = list(got)
    while pending:
        m = pending.pop(0)
        w.send({"type": "result", "job_id": m["job_id"], "ok": True, "output": m["payload"]})
        done += 1
        if done <= 12:
            pending.append(w.recv(timeout=10))
    check(wait_for(lambda: all(r.hgetall(f"hero:job:{j}").get("status") == "finished" for j in ids)),
          "all 20 finish")
    check(all(r.cli("LLEN", f"hero:reply:{j}") == "1" and r.cli("LINDEX", f"hero:reply:{j}", "0") == str(k)
              for k, j in enumerate(ids)), "each hero:reply holds exactly one, right answer")
    check(wait_for(lambda: r.cli("LLEN", "hero:processing:nM") == "0") and r.cli("LLEN", "hero:work_queue:mt") == "0",
          "and no id is left in any list")
    w.close()
    node.stop()
    r.stop()



@test
def redis_url_with_user_password_and_database():
    """redis://user:pass@host:port/db: AUTH and SELECT on every (re)connect; ended jobs expire;
    a worker's dispatch list keeps its last 100 ids; a wrong password is said, never logged."""
    acl = ["--user", "default", "off", "--user", "alice", "on", ">al%ce", "~*", "&*", "+@all"]
    r = Redis(args=acl, auth=["--user", "alice", "--pass", "al%ce", "--no-auth-warning", "-n", "5"])
    node = Node(config={"redis_url": f"redis://alice:al%25ce@127.0.0.1:{r.port}/5", "node_id": "nA5", "job_ttl_s": 60})
    check(wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected"), "the node logs in as alice (AUTH user pass)")
    echo_worker(node, "e1")
    s, res = node.cmd({"cmd": "job", "kind": "echo", "payload": 7, "wait": True})
    jid = res.get("job", {}).get("job_id")
    check(res.get("job", {}).get("output") == 7, "a job through the protected Redis", res)
    check(r.cli("EXISTS", f"hero:job:{jid}") == "1", "its hash is in database 5 (SELECT)")
    ttl = int(r.cli("TTL", f"hero:job:{jid}") or -2)
    check(0 < ttl <= 60, "an ended job's hash expires after job_ttl_s", ttl)
    for i in range(120):
        node.cmd({"cmd": "job", "task_id": "e1", "payload": i, "wait": True})
    wq = "hero:work_queue:nA5:e1"
    check(100 <= int(r.cli("LLEN", wq)) <= 115 and 0 < int(r.cli("TTL", wq)) <= 60,
          "the worker's dispatch list keeps its last 100 ids (trimmed every 16th) and expires",
          (r.cli("LLEN", wq), r.cli("TTL", wq)))
    last = node.cmd({"cmd": "job", "task_id": "e1", "payload": 0, "wait": True})[1]["job"]["job_id"]
    check(r.cli("LINDEX", wq, "0") == last, "the newest dispatch is first in it", (r.cli("LINDEX", wq, "0"), last))
    r.stop()
    wait_for(lambda: node.stat()[1]["node"]["redis"] == "down")
    r.start()
    check(wait_for(lambda: node.stat()[1]["node"]["redis"] == "connected", timeout=20),
          "after Redis restarts, the node logs in again")
    s, res = node.cmd({"cmd": "job", "kind": "echo", "payload": 8, "wait": True})
    check(res.get("job", {}).get("output") == 8 and r.cli("EXISTS", f"hero:job:{res['job']['job_id']}") == "1",
          "and works in database 5 again", res)
    node.stop()
    bad = Node(config={"redis_url": f"redis://alice:wrong-pw@127.0.0.1:{r.port}/5", "node_id": "nBad"})
    logged = wait_for(lambda: "AUTH refused" in bad.log_text(), timeout=15)
    check(logged and bad.stat()[1]["node"]["redis"] == "down", "a wrong password: the node says so and stays down")
    check("wrong-pw" not in bad.log_text(), "the password is never logged")
    bad.stop()
    r.stop()
    try:
        Node(config={"redis_url": "rediss://127.0.0.1:6379"}).stop()
        check(False, "rediss:// is refused")
    except RuntimeError as e:
        check("TLS" in str(e), "rediss:// is refused at start with the reason (no TLS in Debian's hiredis 0.14)",
              str(e)[-200:])


@test
def a_node_declared_dead_reports_nothing_twice():
    """A node stopped long enough to miss 3 heartbeats loses its jobs to the others; when it
    comes back and its own worker finishes the same job, it must stay silent: the job is
    reported once, by the node that now holds it."""
    r = Redis()
    a = Node(config={"redis_url": r.url, "node_id": "cutA"})
    bn = Node(config={"redis_url": r.url, "node_id": "cutB"})
    for n in (a, bn):
        wait_for(lambda: n.stat()[1]["node"]["redis"] == "connected")
    echo_worker(a, "a1", "sleep_job")
    jid = "cut-job-1"
    r.cli("HSET", f"hero:job:{jid}", "id", jid, "script_type", "sleep", "script", str(4000 * SLOW), "timeout", "120",
          "sn_retries", "2", "status", "dispatched")
    r.cli("LPUSH", "hero:work_queue:sleep", jid)
    check(wait_for(lambda: a.task("a1")["busy"]), "node A runs the job")
    a.proc.send_signal(signal.SIGSTOP)  # cut off: no heartbeats, no replies; its worker runs on
    echo_worker(bn, "b1", "sleep_job")
    check(wait_for(lambda: bn.task("b1")["busy"], timeout=30), "node B takes it once A has missed 3 heartbeats")
    a.proc.send_signal(signal.SIGCONT)  # A comes back; its worker's result arrives
    check(wait_for(lambda: a.task("a1")["jobs_done"] == 1, timeout=30), "node A's worker finishes its copy")
    check(wait_for(lambda: r.cli("HGET", f"hero:job:{jid}", "sn_status") == "finished", timeout=30),
          "node B finishes the job")
    a.stop("node A")
    bn.stop("node B")
    replies = r.cli("LLEN", f"hero:reply:{jid}")
    check(replies == "1", "the job was reported once, not twice", replies)
    r.stop()


@test
def a_job_that_ended_here_and_comes_back_gets_its_end_again():
    """Redis loses a job's end (restarted empty) and the submitter, finding no hash, queues the job
    again: the node that ran it, taking the id again, writes its end again instead of dropping
    the id (found by the chaos run: the job sat "queued" in no list and its waiter waited)."""
    r = Redis()
    node = connected_node(r, "nE")
    echo_worker(node, "e1")
    hash_args = ["id", "back-1", "script_type", "echo", "script", "once", "timeout", "60"]
    r.cli("HSET", "hero:job:back-1", *hash_args)
    r.cli("LPUSH", "hero:work_queue:echo", "back-1")
    check(wait_for(lambda: r.hgetall("hero:job:back-1").get("sn_status") == "finished"), "the job runs and ends")
    r.cli("DEL", "hero:job:back-1", "hero:reply:back-1")  # the end is lost, as in a restart
    r.cli("HSET", "hero:job:back-1", *hash_args)  # the submitter writes it again and queues it
    r.cli("LPUSH", "hero:work_queue:echo", "back-1")
    h = wait_for(lambda: (lambda h: h if h.get("sn_status") == "finished" else None)(r.hgetall("hero:job:back-1")))
    check(h is not None and h.get("output") == '"once"', "its end is written again", r.hgetall("hero:job:back-1"))
    check(r.cli("LLEN", "hero:reply:back-1") == "1" and r.cli("LINDEX", "hero:reply:back-1", "0") == '"once"',
          "and its reply, once")
    check(wait_for(lambda: r.cli("LLEN", "hero:processing:nE") == "0") and r.cli("LLEN", "hero:work_queue:echo") == "0",
          "and the id is in no list")
    check(node.task("e1")["jobs_done"] == 1, "it did not run twice", node.task("e1")["jobs_done"])
    node.stop()
    r.stop()


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
