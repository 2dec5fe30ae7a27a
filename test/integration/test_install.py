"""cmake --install puts everything where a Debian package would, with units that point at the
installed paths; the installed node starts with the installed config and runs a worker."""
import os
import re
import shutil
import subprocess
import tempfile

from harness import check, test, wait_for
from snclient import http

BUILD = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))


@test
def install_into_a_staging_dir():
    dest = tempfile.mkdtemp(prefix="sn-destdir-")
    p = subprocess.run(["cmake", "--install", BUILD], env=dict(os.environ, DESTDIR=dest), capture_output=True,
                       text=True, timeout=120)
    check(p.returncode == 0, "DESTDIR=... cmake --install", p.stderr[-500:])
    units = [os.path.join(r, f) for r, _, fs in os.walk(dest) for f in fs if f == "supernode.service"]
    check(len(units) == 1 and "/lib/systemd/system/" in units[0], "a systemd unit under lib/systemd/system", units)
    exec_start = re.search(r"^ExecStart=(\S+) --config (\S+)$", open(units[0]).read(), re.M) if units else None
    node_bin, conf = exec_start.groups() if exec_start else ("?", "?")
    staged = lambda path: dest + path  # noqa: E731
    check(os.access(staged(node_bin), os.X_OK) and os.path.isfile(staged(conf)),
          "its ExecStart names the installed binary and config", (node_bin, conf))
    bindir = os.path.dirname(node_bin)
    have = {n: os.access(staged(os.path.join(bindir, n)), os.X_OK)
            for n in ("supernode-shim", "supernode-ctl", "sensor", "pipe", "echo_job")}
    check(all(have.values()), "shim, ctl and the example workers beside it", have)
    zinit = [os.path.join(r, f) for r, _, fs in os.walk(dest) for f in fs if f == "supernode.yaml"]
    check(zinit and f"exec: {node_bin} --config {conf}" in open(zinit[0]).read(), "the zinit service file too", zinit)
    found = {n: any(n in fs for _, _, fs in os.walk(dest)) for n in ("worker.h", "supernode-worker.pc",
                                                                      "libsupernode-worker.a", "README.md")}
    check(all(found.values()), "the SDK's header, library and pkg-config file, and the docs", found)

    out = os.path.join(dest, "node.out")
    proc = subprocess.Popen([staged(node_bin), "--config", staged(conf), "--listen", "127.0.0.1:0"],
                            stdout=open(out, "w"), stderr=subprocess.DEVNULL)
    line = wait_for(lambda: open(out).read().strip(), timeout=20)
    m = re.search(r"listening on .*:(\d+)", line or "")
    check(m is not None, "the installed node starts with the installed config", line)
    if m:
        port = int(m.group(1))
        http(port, "POST", "/m/cmd", {"cmd": "start", "task_id": "s", "exec": [staged(os.path.join(bindir, "sensor"))]})
        ok = wait_for(lambda: http(port, "GET", "/m/stat/s")[1]["task"]["connected"], timeout=20)
        check(ok, "and runs an installed worker under the installed shim")
    proc.terminate()
    check(proc.wait(60) == 0, "and stops cleanly")
    shutil.rmtree(dest, ignore_errors=True)
