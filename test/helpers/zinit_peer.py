#!/usr/bin/env python3
"""zinit_peer: a small zinit for the zinit backend's tests, written from zinit's documented
unix-socket protocol, so that the repository's tests need nothing outside it.

It really runs services: a service file (<config>/<name>.yaml, JSON content, which is valid
YAML) gives `exec` (split like a shell would, no shell), `env`, `dir`, `after`, `oneshot`,
`signal.stop`. Each service runs in its own process group; its output lines are kept
("[+] name: line" for stdout, "[-] name: line" for stderr).

States as zinit prints them: Unknown, Blocked (an `after` service is not Running or Success
yet), Running, Success (a oneshot that exited 0), Error(Exited(Pid(P), C)) and
Error(Signaled(Pid(P), SIG)) for other ends, Failure when the program cannot start. A service
that is not a oneshot is started again 2 s after it ends while its target is Up.

Protocols:
  jsonrpc (zinit >= 0.2.15): JSON-RPC 2.0, many requests per connection, replies end with a
      newline. Methods: rpc.discover, service_list, service_status, service_create,
      service_delete, service_monitor, service_start, service_stop, service_kill,
      service_forget, stream_currentLogs. Positional params.
  text (zinit <= 0.2.14): one command per connection ("status NAME\\n"), answered with
      {"state":"ok","body":...} or {"state":"error","body":"message"}, then closed;
      "log snapshot" answers the kept lines as plain text.

Usage: zinit_peer.py --socket PATH --config DIR [--protocol jsonrpc|text]
SIGTERM or SIGINT stop every service and exit 0.
"""
import argparse
import asyncio
import json
import os
import shlex
import signal
import sys

RESTART_AFTER_S = 2.0
KILL_AFTER_S = 0.5
KEEP_LINES = 2000

NOT_FOUND, ALREADY_MONITORED, IS_UP, IS_DOWN, BAD_SIGNAL, CONFIG, EXISTS, FILE = (
    -32000, -32001, -32002, -32003, -32004, -32005, -32007, -32008)


class Fail(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


class Service:
    def __init__(self, name, conf):
        self.name, self.conf = name, conf
        self.proc, self.state, self.target = None, "Unknown", "Up"
        self.restart = None
        self.spawning = False  # a spawn is under way: settle() must not start a second process


class Peer:
    def __init__(self, config_dir):
        self.dir, self.services, self.lines = config_dir, {}, []

    # ---- services ----
    def get(self, name):
        if name not in self.services:
            raise Fail(NOT_FOUND, f"service '{name}' not found")
        return self.services[name]

    def ready(self, svc):
        return all(self.services.get(d) is not None and self.services[d].state in ("Running", "Success")
                   for d in svc.conf.get("after") or [])

    def settle(self):
        """Starts blocked services whose dependencies are now there."""
        for svc in list(self.services.values()):
            if svc.target == "Up" and svc.proc is None and svc.state in ("Unknown", "Blocked") and svc.restart is None \
                    and not svc.spawning:
                if self.ready(svc):
                    svc.spawning = True
                    asyncio.ensure_future(self.spawn(svc))
                else:
                    svc.state = "Blocked"

    async def spawn(self, svc):
        try:
            argv = shlex.split(svc.conf.get("exec", ""))
            env = dict(os.environ, **{k: str(v) for k, v in (svc.conf.get("env") or {}).items()})
            svc.proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=svc.conf.get("dir") or None, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except (OSError, ValueError, IndexError):
            svc.state, svc.proc, svc.spawning = "Failure", None, False
            return
        svc.spawning = False
        if svc.target != "Up" or self.services.get(svc.name) is not svc:  # stopped or forgotten meanwhile
            os.killpg(svc.proc.pid, signal.SIGKILL)
        svc.state = "Running"
        self.settle()
        proc = svc.proc
        readers = [asyncio.ensure_future(self.keep(svc, proc.stdout, "+")),
                   asyncio.ensure_future(self.keep(svc, proc.stderr, "-"))]
        rc = await proc.wait()
        # A child of the service may hold its output open: do not wait for it.
        await asyncio.wait(readers, timeout=0.2)
        if svc.proc is proc:
            svc.proc = None
        if rc == 0 and svc.conf.get("oneshot"):
            svc.state = "Success"
        elif rc < 0:
            svc.state = f"Error(Signaled(Pid({proc.pid}), {signal.Signals(-rc).name}))"
        else:
            svc.state = f"Error(Exited(Pid({proc.pid}), {rc}))"
        self.settle()
        if svc.target == "Up" and not svc.conf.get("oneshot") and self.services.get(svc.name) is svc:
            svc.restart = asyncio.get_running_loop().call_later(RESTART_AFTER_S, self.restart, svc)

    def restart(self, svc):
        svc.restart = None
        if svc.target == "Up" and svc.proc is None and self.services.get(svc.name) is svc:
            svc.state = "Unknown"
            self.settle()

    async def keep(self, svc, stream, mark):
        async for raw in stream:
            self.lines.append(f"[{mark}] {svc.name}: {raw.decode(errors='replace').rstrip()}")
            del self.lines[:-KEEP_LINES]

    def signal(self, svc, signame):
        try:
            sig = signal.Signals[signame if signame.startswith("SIG") else "SIG" + signame]
        except KeyError:
            raise Fail(BAD_SIGNAL, f"invalid signal '{signame}'")
        if svc.proc is None:
            raise Fail(IS_DOWN, f"service '{svc.name}' is down")
        try:
            os.killpg(svc.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, svc):
        svc.target = "Down"
        if svc.restart:
            svc.restart.cancel()
            svc.restart = None
        if svc.proc is None:
            return
        proc = svc.proc
        self.signal(svc, (svc.conf.get("signal") or {}).get("stop", "SIGTERM"))

        def hard():
            if proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        asyncio.get_running_loop().call_later(KILL_AFTER_S, hard)

    # ---- the commands, by their JSON-RPC names ----
    def service_list(self):
        return {n: s.state for n, s in self.services.items()}

    def service_status(self, name):
        svc = self.get(name)
        return {"name": name, "pid": svc.proc.pid if svc.proc else 0, "state": svc.state, "target": svc.target,
                "after": {d: self.services[d].state if d in self.services else "Unknown"
                          for d in svc.conf.get("after") or []}}

    def path(self, name):
        if not name or "/" in name or name.startswith("."):
            raise Fail(CONFIG, f"invalid service name '{name}'")
        return os.path.join(self.dir, name + ".yaml")

    def service_create(self, name, content):
        try:
            fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise Fail(EXISTS, f"service '{name}' already exists")
        with os.fdopen(fd, "w") as f:
            json.dump(content, f)
        return f"service '{name}' created"

    def service_delete(self, name):
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            raise Fail(NOT_FOUND, f"service '{name}' not found")
        return f"service '{name}' deleted"

    def service_monitor(self, name):
        if name in self.services:
            raise Fail(ALREADY_MONITORED, f"service '{name}' already monitored")
        try:
            with open(self.path(name)) as f:
                conf = json.load(f)
        except FileNotFoundError:
            raise Fail(NOT_FOUND, f"service '{name}' not found")
        except ValueError as e:
            raise Fail(CONFIG, f"service '{name}': {e}")
        self.services[name] = Service(name, conf)
        self.settle()
        return "ok"

    def service_start(self, name):
        svc = self.get(name)
        svc.target = "Up"
        if svc.proc is None and svc.restart is None:
            svc.state = "Unknown"
            self.settle()
        return "ok"

    def service_stop(self, name):
        self.stop(self.get(name))
        return "ok"

    def service_kill(self, name, signame):
        self.signal(self.get(name), signame)
        return "ok"

    def service_forget(self, name):
        svc = self.get(name)
        if svc.target == "Up" or svc.proc is not None:
            raise Fail(IS_UP, f"service '{name}' is up")
        del self.services[name]
        return "ok"

    def stream_currentLogs(self, name=None):
        return [l for l in self.lines if name is None or l.split(" ", 2)[1] == name + ":"]

    def rpc_discover(self):
        return {"openrpc": "1.2.6", "info": {"title": "zinit_peer", "version": "0.2.28"},
                "methods": [{"name": m} for m in METHODS]}

    def shutdown(self):
        for svc in self.services.values():
            if svc.proc is not None:
                try:
                    os.killpg(svc.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


METHODS = ["service_list", "service_status", "service_create", "service_delete", "service_monitor",
           "service_start", "service_stop", "service_kill", "service_forget", "stream_currentLogs"]
TEXT = {"list": "service_list", "status": "service_status", "start": "service_start", "stop": "service_stop",
        "monitor": "service_monitor", "forget": "service_forget", "kill": "service_kill"}


def call(peer, method, params):
    if method == "rpc.discover":
        return peer.rpc_discover()
    if method not in METHODS:
        raise Fail(-32601, f"method '{method}' not found")
    try:
        return getattr(peer, method)(*(params or []))
    except TypeError:
        raise Fail(-32602, "invalid params")


async def serve_jsonrpc(peer, reader, writer):
    buf, dec = "", json.JSONDecoder()
    while (chunk := await reader.read(65536)):
        buf += chunk.decode(errors="replace")
        while (buf := buf.lstrip()):
            try:
                req, end = dec.raw_decode(buf)
            except ValueError:
                break  # the rest of the object is still on its way
            buf = buf[end:]
            reply = {"jsonrpc": "2.0", "id": req.get("id") if isinstance(req, dict) else None}
            try:
                if not isinstance(req, dict):
                    raise Fail(-32600, "invalid request")
                reply["result"] = call(peer, req.get("method"), req.get("params"))
            except Fail as e:
                reply["error"] = {"code": e.code, "message": str(e)}
            writer.write((json.dumps(reply) + "\n").encode())
    writer.close()


async def serve_text(peer, reader, writer):
    line = (await reader.readline()).decode(errors="replace").strip()
    words = line.split()
    if words[:2] == ["log", "snapshot"]:
        writer.write(("\n".join(peer.lines) + "\n").encode())
    else:
        try:
            if not words or words[0] not in TEXT:
                raise Fail(-32601, f"unknown command '{line[:40]}'")
            body = call(peer, TEXT[words[0]], words[1:])
            reply = {"state": "ok", "body": None if body == "ok" else body}
        except Fail as e:
            reply = {"state": "error", "body": str(e)}
        writer.write(json.dumps(reply).encode())
    await writer.drain()
    writer.close()


async def main():
    ap = argparse.ArgumentParser(description="a zinit peer for tests")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--protocol", choices=["jsonrpc", "text"], default="jsonrpc")
    a = ap.parse_args()
    peer = Peer(a.config)
    handler = serve_jsonrpc if a.protocol == "jsonrpc" else serve_text
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    server = await asyncio.start_unix_server(lambda r, w: handler(peer, r, w), path=a.socket)
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, done.set)
    await done.wait()
    server.close()
    peer.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
