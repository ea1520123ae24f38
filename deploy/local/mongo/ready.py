"""MongoDB readiness probe of the local stack: one real ``ping`` command (OP_MSG), stdlib only.

Exits 0 when the server answers ``{ping: 1}`` with ``ok: 1``, 1 otherwise: a real round trip
through the wire protocol, not a bare TCP connect, and no virtualenv needed (pymongo may not be
installed yet). Usage: python3 ready.py [host] port
"""

from __future__ import annotations

import socket
import struct
import sys

OP_MSG = 2013
REQUEST_ID = 0x50531


def bson_document(elements: bytes) -> bytes:
    return struct.pack("<i", len(elements) + 5) + elements + b"\x00"


def ping_message() -> bytes:
    db = b"admin\x00"
    body = bson_document(
        b"\x10ping\x00" + struct.pack("<i", 1) + b"\x02$db\x00" + struct.pack("<i", len(db)) + db
    )
    payload = struct.pack("<I", 0) + b"\x00" + body  # flagBits, section kind 0, the command
    return struct.pack("<iiii", 16 + len(payload), REQUEST_ID, 0, OP_MSG) + payload


def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return buf


# Fixed sizes of the BSON value types a ping reply may hold; others are length-prefixed.
FIXED = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}


def ok_field(doc: bytes) -> float | None:
    """The numeric ``ok`` of a top-level BSON document, or None."""
    pos, end = 4, struct.unpack_from("<i", doc)[0] - 1
    while pos < end:
        kind = doc[pos]
        name_end = doc.index(b"\x00", pos + 1)
        name, pos = doc[pos + 1 : name_end], name_end + 1
        if name == b"ok":
            if kind == 0x01:
                return float(struct.unpack_from("<d", doc, pos)[0])
            if kind in (0x10, 0x12):
                return float(struct.unpack_from("<i" if kind == 0x10 else "<q", doc, pos)[0])
            return None
        if kind in FIXED:
            pos += FIXED[kind]
        elif kind in (0x02, 0x0D, 0x0E):  # string-like: int32 length + bytes
            pos += 4 + struct.unpack_from("<i", doc, pos)[0]
        elif kind in (0x03, 0x04):  # embedded document / array: int32 total length
            pos += struct.unpack_from("<i", doc, pos)[0]
        elif kind == 0x05:  # binary: int32 length + subtype + bytes
            pos += 5 + struct.unpack_from("<i", doc, pos)[0]
        else:
            return None
    return None


def ready(host: str, port: int, timeout: float = 2.0) -> bool:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(ping_message())
        length, _, response_to, op_code = struct.unpack("<iiii", read_exact(sock, 16))
        payload = read_exact(sock, length - 16)
    if op_code != OP_MSG or response_to != REQUEST_ID or payload[4] != 0:
        return False
    return ok_field(payload[5:]) == 1.0


def main(argv: list[str]) -> int:
    host, port = ("127.0.0.1", argv[0]) if len(argv) == 1 else (argv[0], argv[1])
    try:
        return 0 if ready(host, int(port)) else 1
    except (OSError, ValueError, struct.error):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
