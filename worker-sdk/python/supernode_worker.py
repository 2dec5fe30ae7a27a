"""supernode_worker: a small websocket client and worker for supernode, in pure Python 3
(standard library only). The C SDK is the supported way to write workers; this module
serves the demo worker of scripts/run and the integration tests.
"""
import base64
import json
import os
import socket
import struct


class Closed(Exception):
    pass


class WS:
    """A blocking websocket client: masked frames out, text/binary/close in."""

    def __init__(self, port, path, headers=None, host="127.0.0.1", timeout=10, rcvbuf=None, tls=None):
        """tls: an ssl.SSLContext for wss:// (the host name is checked against the certificate)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # a small receive buffer makes a client that does not read visible at once
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("closed during handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        self.body = b""
        if self.status != 101:
            # The refusal carries a JSON body with Content-Length.
            clen = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v.strip())
            while len(self.buf) < clen:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buf += chunk
            self.body = self.buf[:clen]
        self.close_code = None

    def json_body(self):
        return json.loads(self.body)

    def send_raw(self, data, opcode, fin=True):
        mask = os.urandom(4)
        n = len(data)
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        # XOR the payload with the mask in bulk (int arithmetic keeps big frames fast).
        m = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big") if n else b""
        self.sock.sendall(hdr + mask + masked)

    def send(self, obj):
        if isinstance(obj, (bytes, bytearray)):
            self.send_raw(bytes(obj), 0x2)
        elif isinstance(obj, str):
            self.send_raw(obj.encode(), 0x1)
        else:
            self.send_raw(json.dumps(obj).encode(), 0x1)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise Closed("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout=10):
        """Next message: dict for JSON text, bytes for binary; raises Closed on close,
        socket.timeout when nothing came in time."""
        self.sock.settimeout(timeout)
        parts, first_op = [], None
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(f"close {self.close_code}")
            if op == 0x9:
                self.send_raw(payload, 0xA)
                continue
            if op == 0xA:
                continue
            if op != 0:
                first_op = op
            parts.append(payload)
            if b0 & 0x80:
                data = b"".join(parts)
                return data if first_op == 0x2 else json.loads(data)

    def recv_until_close(self, timeout=10):
        """Reads until the node closes; returns (messages, close code)."""
        msgs = []
        try:
            while True:
                msgs.append(self.recv(timeout))
        except Closed:
            pass
        return msgs, self.close_code

    def close(self):
        try:
            self.send_raw(struct.pack("!H", 1000), 0x8)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class Worker(WS):
    """A worker on /w/ch: hello, then puts."""

    def __init__(self, port, task_id, token=None, **kw):
        super().__init__(port, "/w/ch")
        hello = {"type": "hello", "task_id": task_id, "pid": os.getpid()}
        if token:
            hello["token"] = token
        hello.update(kw)
        self.send(hello)
        self.welcome = self.recv()

    def put(self, data):
        self.send({"type": "put", "data": data})

    def put_items(self, items):
        self.send({"type": "put", "items": items})
