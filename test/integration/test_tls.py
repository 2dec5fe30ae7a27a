"""TLS: with `tls: {cert, key}` the one port serves https:// and wss:// only; curl, the Python
client, supernode-ctl and SDK workers (spawned, and over the network) all verify the node's
certificate; SIGHUP reloads a renewed certificate."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import urllib.request

from harness import SLOW, Node, check, test, wait_for
from snclient import WS

BIN_DIR = os.path.dirname(os.path.abspath(os.environ.get("SN_BIN", "build/supernode")))


def make_cert(d, name, cn="localhost"):
    """A self-signed certificate for 127.0.0.1 and localhost, made by openssl."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={cn}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def ctx_for(cert):
    return ssl.create_default_context(cafile=cert)


def https_get(port, path, cert, host="127.0.0.1"):
    with urllib.request.urlopen(f"https://{host}:{port}{path}", context=ctx_for(cert), timeout=30) as r:
        return r.status, r.read()


def served_cert(port):
    """The DER of the certificate the node presents to a new connection."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)


def der(cert):
    return ssl.PEM_cert_to_DER_cert(open(cert).read())


@test
def tls_on_the_one_port():
    d = tempfile.mkdtemp(prefix="sn-tls-")
    cert, key = make_cert(d, "node")
    other, _ = make_cert(d, "other", cn="someone-else")
    node = Node(config={"tls": {"cert": cert, "key": key}})
    s, body = https_get(node.port, "/m/stat", cert)
    check(s == 200 and b'"ok":true' in body, "https:// with a client that trusts the certificate")
    r = subprocess.run(["curl", "-s", "--cacert", cert, "-XPOST", f"https://localhost:{node.port}/m/cmd",
                        "-d", '{"cmd":"ping"}'], capture_output=True, text=True, timeout=30)
    check('"pong":true' in r.stdout, "curl --cacert: POST /m/cmd by name (localhost)", r.stdout + r.stderr)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"https://127.0.0.1:{node.port}/m/stat"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 60, "curl without the certificate refuses it (exit 60)", (r.returncode, r.stdout))
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as raw:
        raw.sendall(b"GET /m/stat HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        got = b""
        try:
            while len(got) < 64:
                c = raw.recv(64)
                if not c:
                    break
                got += c
        except OSError:
            pass
    check(b"200 OK" not in got and b'"ok"' not in got, "plain http:// gets no answer in the clear", got[:40])

    ws = WS(node.port, "/m/cmd", tls=ctx_for(cert))
    check(ws.status == 101, "wss:// upgrade with the Python client")
    ws.send({"cmd": "start", "task_id": "s1", "exec": [os.path.join(BIN_DIR, "sensor")], "start_params": "50"})
    r = ws.recv(30)
    check(r.get("ok"), "a command over wss://", r)
    ws.close()

    def stat(tid):
        import json
        return json.loads(https_get(node.port, f"/m/stat/{tid}", cert)[1])["task"]
    check(wait_for(lambda: stat("s1")["connected"] and stat("s1")["queue"]["len"] >= 3, timeout=30),
          "a spawned SDK worker connects over wss:// (SUPERNODE_URL wss://, SUPERNODE_CA_FILE the node's cert)")
    f = WS(node.port, "/m/fetch/s1?from=oldest", tls=ctx_for(cert))
    m = f.recv(30)
    check(m.get("type") == "data" and m.get("seq") == 1, "a fetcher over wss://", m)
    f.close()

    # An SDK worker over the network: it must trust the certificate.
    c = WS(node.port, "/m/cmd", tls=ctx_for(cert))
    c.send({"cmd": "start", "task_id": "n1", "mode": "net"})
    c.recv(30)
    c.close()
    url = f"wss://127.0.0.1:{node.port}/w/ch"
    bad = subprocess.Popen([os.path.join(BIN_DIR, "sn-sdkworker"), url, "n1"], stdout=subprocess.PIPE, text=True,
                           env=dict(os.environ, SUPERNODE_CA_FILE=other))
    line = bad.stdout.readline()
    check(line.startswith("error: TLS handshake: certificate"), "an SDK worker that does not trust it refuses the node",
          line)
    check(not stat("n1")["connected"], "and is not connected")
    bad.kill()
    bad.wait()
    good = subprocess.Popen([os.path.join(BIN_DIR, "sn-sdkworker"), url, "n1"], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, SUPERNODE_CA_FILE=cert))
    line = good.stdout.readline()
    check(line.startswith("connected"), "one given the certificate connects", line)
    check(wait_for(lambda: stat("n1")["queue"]["len"] > 10, timeout=30), "and puts over wss://")
    good.kill()
    good.wait()

    ctl = os.path.join(BIN_DIR, "supernode-ctl")
    r = subprocess.run([ctl, "ls", "--url", f"https://127.0.0.1:{node.port}", "--cacert", cert], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0 and "s1" in r.stdout, "supernode-ctl --url https://... --cacert", r.stderr)
    r = subprocess.run([ctl, "ls", "--url", f"https://127.0.0.1:{node.port}"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 3 and "certificate" in r.stderr, "without --cacert: exit 3 and the reason", r.stderr)
    fp = subprocess.Popen([ctl, "fetch", "s1", "--url", f"wss://localhost:{node.port}", "--cacert", cert],
                          stdout=subprocess.PIPE, text=True)
    first = fp.stdout.readline()
    fp.kill()
    fp.wait()
    check('"seq":1' in first, "supernode-ctl fetch over wss://", first)

    # SIGHUP: a renewed certificate is served to new connections.
    check(served_cert(node.port) == der(cert), "the node serves its certificate")
    os.rename(cert, cert + ".old")
    os.rename(key, key + ".old")
    make_cert(d, "node", cn="renewed")
    renewed = der(cert)
    node.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: served_cert(node.port) == renewed, timeout=30), "SIGHUP: the renewed certificate is served")
    s, _ = https_get(node.port, "/m/stat", cert)
    check(s == 200, "and verifies")
    shutil.copy(other.replace(".pem", ".key"), key)  # a key that does not match: the reload is refused
    node.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "(the certificate in use stays)" in node.log_text(), timeout=30),
          "a bad pair on SIGHUP is refused and logged", node.log_text()[-1500:])
    check(served_cert(node.port) == renewed and https_get(node.port, "/m/stat", cert)[0] == 200,
          "and the certificate in use stays")
    node.stop()

    r = subprocess.run([os.environ.get("SN_BIN", "build/supernode"), "--listen", "127.0.0.1:0", "--config",
                        _write(d, {"tls": {"cert": cert, "key": key}})], capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "TLS" in r.stderr and key in r.stderr, "a node whose key does not match its certificate does not start",
          r.stderr[-300:])
    shutil.rmtree(d, ignore_errors=True)


def _write(d, cfg):
    import json
    p = os.path.join(d, "bad.json")
    with open(p, "w") as f:
        json.dump(cfg, f)
    return p
