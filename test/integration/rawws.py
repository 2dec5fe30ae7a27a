"""A raw-socket websocket peer for hostile tests: it frames whatever bytes it is told to,
legal or not (unmasked, reserved bits, bad opcodes, lying lengths), and reads the node's
frames and close code without judging them. Standard library only."""
import os
import socket
import struct
import time

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def frame(op, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One frame's bytes. length overrides the length field (to lie about it)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


class RawWS:
    def __init__(self, port, path, headers=None, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.loose_lengths = 0  # frames whose length was not in the fewest bytes (RFC 6455 5.2: MUST)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        if "Host" not in (headers or {}):
            extra = f"Host: 127.0.0.1:{port}\r\n" + extra
        self.s.sendall((f"GET {path} HTTP/1.1\r\n{extra}Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        self.head = head

    def _until(self, sep):
        while sep not in self.buf:
            c = self.s.recv(65536)
            if not c:
                break
            self.buf += c
        head, _, self.buf = self.buf.partition(sep)
        return head

    def send(self, data):
        """Sends bytes; a node that already hung up is not an error here."""
        try:
            self.s.sendall(data)
        except OSError:
            pass

    def _read(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c:
                raise EOFError
            self.buf += c
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        """(opcode, payload) of the next frame; raises EOFError or socket.timeout."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
            self.loose_lengths += n < 126
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
            self.loose_lengths += n < 65536
        return b0 & 0x0F, self._read(n)

    def close_code(self, timeout=10):
        """Reads until the node's close frame (returns its code, or 1005 when empty) or EOF
        (returns None); data frames on the way are kept in self.seen."""
        self.seen = []
        self.s.settimeout(timeout)
        try:
            while True:
                op, p = self.recv_frame()
                if op == OP_CLOSE:
                    return struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005
                self.seen.append((op, p))
        except (EOFError, ConnectionError):
            return None
        except socket.timeout:
            return "timeout"

    def text(self, timeout=10):
        """The next text frame, decoded (skipping pings)."""
        self.s.settimeout(timeout)
        while True:
            op, p = self.recv_frame()
            if op == OP_TEXT:
                return p.decode()
            if op == OP_CLOSE:
                raise EOFError(f"closed {p[:2].hex()}")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def slow_request(port, data, delay=0.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    for b in data:
        s.send(bytes([b]))
        if delay:
            time.sleep(delay)
    return s
