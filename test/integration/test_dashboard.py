"""The dashboard at /: a real headless Chromium loads it from a running node; the rendered DOM
shows the tasks and their states, follows a task's log and data, and its buttons act."""
import os

from browser import Browser, chromium
from harness import HERE, SLOW, Node, check, test, wait_for
from snclient import Worker, http

TOKEN = "dash-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))
ARTIFACTS = os.environ.get("SN_ARTIFACTS", os.path.join(HERE, "../../build/artifacts"))

ROWS = "[...document.querySelectorAll('#rows tr[data-id]')].map(tr => [tr.dataset.id, tr.querySelector('.state').textContent])"


def rows(b):
    return dict(b.eval(ROWS) or [])


@test
def dashboard_in_a_real_browser():
    node = Node(config={"operator_token": TOKEN})
    s, page = http(node.port, "GET", "/")
    check(s == 200 and b"<title>supernode</title>" in page, "GET / serves the page without the token (it holds no data)")
    if not check(chromium() is not None, "chromium is installed (scripts/setup installs it)"):
        node.stop()
        return
    node.cmd({"cmd": "start", "task_id": "sensor-1", "kind": "sensor", "exec": [os.path.join(BIN_DIR, "sensor")]}, AUTH)
    node.cmd({"cmd": "start", "task_id": "crashy", "exec": ["/bin/sh", "-c", "echo starting; sleep 0.2; exit 2"],
              "backoff_ms": 50, "max_restarts": 2}, AUTH)
    node.cmd({"cmd": "start", "task_id": "feed", "mode": "net", "queue_len": 50}, AUTH)
    wait_for(lambda: node.stat("crashy", AUTH)[1]["task"]["state"] == "failed")
    b = Browser()
    try:
        b.navigate(f"http://127.0.0.1:{node.port}/")
        asked = wait_for(lambda: b.eval("document.getElementById('login').open"), timeout=30)
        check(asked and not rows(b), "without the token the page asks for it and shows nothing")
        b.eval("document.getElementById('tok').value = %r; document.getElementById('login-form').requestSubmit(); 1" % TOKEN)
        want = {"sensor-1": "running", "crashy": "failed", "feed": "waiting"}
        shown = wait_for(lambda: rows(b) == want, timeout=30)
        check(shown, "with the token: every task with its state, live over /m/stat", rows(b))
        check(b.eval("sessionStorage.getItem('sn_token')") == TOKEN and "token" not in b.eval("location.href"),
              "the token is kept in sessionStorage, not in the URL")
        w = Worker(node.port, "feed")
        check(wait_for(lambda: rows(b).get("feed") == "running", timeout=30), "a worker connects: the row turns running")
        b.eval("document.querySelector('#rows tr[data-id=\"crashy\"]').click(); 1")
        logs = wait_for(lambda: "starting" in (b.eval("document.getElementById('d-logs').textContent") or ""), timeout=30)
        check(logs, "a task's detail shows its last log lines")
        b.eval("document.querySelector('#rows tr[data-id=\"feed\"]').click(); 1")
        wait_for(lambda: b.eval("document.getElementById('d-title').textContent") == "feed")

        def tail():
            w.put_items([{"reading": 41}, {"reading": 42}])
            return '{"reading":42}' in (b.eval("document.getElementById('d-data').textContent") or "")
        check(wait_for(tail, timeout=30, interval=0.5), "and a live tail of its data",
              b.eval("document.getElementById('d-data').textContent"))
        b.eval("document.querySelector('#rows tr[data-id=\"sensor-1\"]').click(); 1")
        wait_for(lambda: b.eval("document.getElementById('d-title').textContent") == "sensor-1")
        b.eval("window.confirm = () => false; document.getElementById('b-stop').click(); 1")
        check(node.stat("sensor-1", AUTH)[1]["task"]["state"] == "running", "stop asks first; cancelled, nothing happens")
        b.eval("window.confirm = () => true; document.getElementById('b-stop').click(); 1")
        stopped = wait_for(lambda: node.stat("sensor-1", AUTH)[1]["task"]["state"] == "stopped", timeout=30)
        check(stopped, "confirmed, the stop button stops the task")
        check(wait_for(lambda: rows(b).get("sensor-1") == "stopped", timeout=30), "and the page shows it")
        b.eval("document.getElementById('b-start').click(); 1")
        check(wait_for(lambda: rows(b).get("sensor-1") == "running", timeout=30), "start runs it again")
        b.eval("document.querySelector('#rows tr[data-id=\"feed\"]').click(); 1")
        wait_for(lambda: b.eval("document.getElementById('d-title').textContent") == "feed")
        drawn = wait_for(lambda: b.eval("document.getElementById('d-span').textContent") not in (None, "0 s", "0s"),
                         timeout=30)
        check(drawn, "the chart has history to draw")
        shot = b.screenshot(os.path.join(ARTIFACTS, "dashboard.png"))
        with open(shot, "rb") as f:
            png = f.read()
        check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000, f"screenshot saved: {os.path.relpath(shot)}", len(png))
        w.close()
    finally:
        b.close()
    node.stop()
