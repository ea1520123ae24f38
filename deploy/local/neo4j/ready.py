"""Neo4j readiness probe of the local stack: a real Bolt session, stdlib only.

Handshake (Bolt 5.1, or 4.4), HELLO and LOGON with the stack's credentials, then ``RETURN 1``
must come back as one record ``[1]``. That proves more than an open port: the Bolt server is up,
the password of stack.env is set (the server sets it just after Bolt opens; until then the login
fails) and the default database answers a query. No virtualenv needed (the neo4j driver may not
be installed yet). Exits 0 when ready, 1 otherwise.
Usage: python3 ready.py [host] port user password
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any

MAGIC = b"\x60\x60\xb0\x17"
# Versions offered, best first (sent as 00 range minor major): 5.1 split the login into HELLO +
# LOGON; 4.4 logs in with HELLO.
OFFERED = [(5, 1), (4, 4)]
HELLO, LOGON, GOODBYE, RUN, PULL = 0x01, 0x6A, 0x02, 0x10, 0x3F
SUCCESS, RECORD, IGNORED, FAILURE = 0x70, 0x71, 0x7E, 0x7F
USER_AGENT = "polystream-ready/1"


class BoltError(Exception):
    pass


# -- PackStream, the subset a probe needs --------------------------------------------------------
def pack(value: Any) -> bytes:
    if value is None:
        return b"\xc0"
    if isinstance(value, bool):
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        if -16 <= value < 128:
            return struct.pack(">b", value)
        for marker, fmt in ((0xC8, ">b"), (0xC9, ">h"), (0xCA, ">i"), (0xCB, ">q")):
            try:
                return bytes([marker]) + struct.pack(fmt, value)
            except struct.error:
                continue
        raise ValueError(f"integer out of range: {value}")
    if isinstance(value, str):
        data = value.encode()
        return sized(len(data), 0x80, 0xD0) + data
    if isinstance(value, dict):
        return sized(len(value), 0xA0, 0xD8) + b"".join(pack(k) + pack(v) for k, v in value.items())
    if isinstance(value, list):
        return sized(len(value), 0x90, 0xD4) + b"".join(pack(v) for v in value)
    raise TypeError(f"cannot pack {type(value).__name__}")


def sized(n: int, tiny: int, marker8: int) -> bytes:
    """The header of a string, list or map of n items: tiny (n < 16), or 8/16/32-bit size."""
    if n < 16:
        return bytes([tiny | n])
    for i, fmt in enumerate((">B", ">H", ">I")):
        if n < 1 << (8 << i):
            return bytes([marker8 + i]) + struct.pack(fmt, n)
    raise ValueError("too large")


def message(signature: int, *fields: Any) -> bytes:
    return bytes([0xB0 | len(fields), signature]) + b"".join(pack(f) for f in fields)


class Unpacker:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        if len(chunk) < n:
            raise BoltError("truncated message")
        self.pos += n
        return chunk

    def size(self, marker: int, base: int) -> int:
        fmt = (">B", ">H", ">I")[marker - base]
        return int(struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0])

    def value(self) -> Any:
        m = self.take(1)[0]
        if m < 0x80:
            return m
        if m >= 0xF0:
            return m - 0x100
        hi, lo = m & 0xF0, m & 0x0F
        if hi == 0x80:
            return self.take(lo).decode()
        if hi == 0x90:
            return [self.value() for _ in range(lo)]
        if hi == 0xA0:
            return self.map(lo)
        if hi == 0xB0:
            return (self.take(1)[0], [self.value() for _ in range(lo)])
        if m == 0xC0:
            return None
        if m in (0xC2, 0xC3):
            return m == 0xC3
        if m == 0xC1:
            return struct.unpack(">d", self.take(8))[0]
        if 0xC8 <= m <= 0xCB:
            fmt = (">b", ">h", ">i", ">q")[m - 0xC8]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if 0xCC <= m <= 0xCE:
            return self.take(self.size(m, 0xCC))
        if 0xD0 <= m <= 0xD2:
            return self.take(self.size(m, 0xD0)).decode()
        if 0xD4 <= m <= 0xD6:
            return [self.value() for _ in range(self.size(m, 0xD4))]
        if 0xD8 <= m <= 0xDA:
            return self.map(self.size(m, 0xD8))
        raise BoltError(f"unknown PackStream marker 0x{m:02x}")

    def map(self, n: int) -> dict[str, Any]:
        return {self.value(): self.value() for _ in range(n)}


# -- Bolt messages over a socket ------------------------------------------------------------------
def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return buf


def send(sock: socket.socket, *messages: bytes) -> None:
    out = b""
    for msg in messages:
        for i in range(0, len(msg), 0xFFFF):
            chunk = msg[i : i + 0xFFFF]
            out += struct.pack(">H", len(chunk)) + chunk
        out += b"\x00\x00"
    sock.sendall(out)


def receive(sock: socket.socket) -> tuple[int, list[Any]]:
    data = b""
    while True:
        (size,) = struct.unpack(">H", read_exact(sock, 2))
        if size:
            data += read_exact(sock, size)
        elif data:  # an empty chunk ends a message; before one, it is a keep-alive (NOOP)
            break
    signature, fields = Unpacker(data).value()
    return signature, fields


def expect_success(sock: socket.socket, what: str) -> dict[str, Any]:
    signature, fields = receive(sock)
    if signature == FAILURE:
        meta = fields[0] if fields else {}
        raise BoltError(f"{what}: {meta.get('code')}: {meta.get('message')}")
    if signature != SUCCESS:
        raise BoltError(f"{what}: unexpected message 0x{signature:02x}")
    return dict(fields[0]) if fields else {}


def ready(host: str, port: int, user: str, password: str, timeout: float = 5.0) -> str:
    """The server's agent string once ``RETURN 1`` answered 1; raises otherwise."""
    auth = {"scheme": "basic", "principal": user, "credentials": password}
    with socket.create_connection((host, port), timeout=timeout) as sock:
        offers = b"".join(struct.pack(">BBBB", 0, 0, minor, major) for major, minor in OFFERED)
        sock.sendall(MAGIC + offers + b"\x00" * 4 * (4 - len(OFFERED)))
        _, _, minor, major = read_exact(sock, 4)
        if (major, minor) == (5, 1):
            send(sock, message(HELLO, {"user_agent": USER_AGENT}))
            server = expect_success(sock, "HELLO").get("server", "?")
            send(sock, message(LOGON, auth))
            expect_success(sock, "LOGON")
        elif (major, minor) == (4, 4):
            send(sock, message(HELLO, {"user_agent": USER_AGENT, **auth}))
            server = expect_success(sock, "HELLO").get("server", "?")
        else:
            raise BoltError(f"no common Bolt version (server chose {major}.{minor})")
        send(sock, message(RUN, "RETURN 1 AS n", {}, {}), message(PULL, {"n": -1}))
        expect_success(sock, "RUN")
        signature, fields = receive(sock)
        if signature != RECORD or fields != [[1]]:
            raise BoltError(f"RETURN 1: got message 0x{signature:02x} {fields!r}")
        expect_success(sock, "PULL")
        send(sock, message(GOODBYE))
    return f"{server} over Bolt {major}.{minor}"


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print("usage: ready.py [host] port user password", file=sys.stderr)
        return 2
    host, port, user, password = ["127.0.0.1", *argv] if len(argv) == 3 else argv
    try:
        server = ready(host, int(port), user, password)
    except (OSError, ValueError, struct.error, BoltError) as exc:
        print(f"neo4j {host}:{port} not ready: {exc}", file=sys.stderr)
        return 1
    print(f"neo4j {host}:{port} ready: {server}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
