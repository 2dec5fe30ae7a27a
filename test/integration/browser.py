"""A real headless Chromium, driven over the DevTools protocol with our own websocket client:
load a page, read its DOM with JavaScript, take a screenshot. Waits are on conditions."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from snclient import WS, free_port




def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, width=1280, height=860, timeout=60):
        self.dir = tempfile.mkdtemp(prefix="sn-chromium-")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "chromium.log"), "w")
        self.proc = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", f"--window-size={width},{height}",
             f"--remote-debugging-port={self.port}", f"--user-data-dir={self.dir}/profile", "about:blank"],
            stdout=self.log, stderr=self.log)
        self.next_id = 0
        deadline = time.time() + timeout
        page = None
        while page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
                    page = next((p for p in json.load(r) if p.get("type") == "page"), None)
            except OSError:
                pass
            if page is None:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromium did not start: " + open(self.log.name).read()[-2000:])
                time.sleep(0.1)
        path = "/" + page["webSocketDebuggerUrl"].split("/", 3)[3]
        self.ws = WS(self.port, path, timeout=timeout)

    def call(self, method, timeout=60, **params):
        self.next_id += 1
        self.ws.send({"id": self.next_id, "method": method, "params": params})
        while True:  # events come in between; the answer carries our id
            msg = self.ws.recv(timeout)
            if isinstance(msg, dict) and msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def eval(self, expr):
        """The value of a JavaScript expression in the page (None when it throws)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        return None if "exceptionDetails" in r else r.get("result", {}).get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        if getattr(self, "ws", None):
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
