"""Kafka readiness probe of the local stack: one real Metadata request (API key 3, v4), stdlib only.

Exits 0 when the broker answers with itself among the live brokers (so it is registered with the
KRaft controller and unfenced), 1 otherwise. No JVM (a Kafka CLI tool takes seconds to start) and no
virtualenv (confluent_kafka may not be installed yet). Usage: python3 ready.py [host] port
"""

from __future__ import annotations

import socket
import struct
import sys

CORRELATION_ID = 0x50531


def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return buf


def metadata(host: str, port: int, timeout: float = 2.0) -> tuple[int, list[tuple[int, str, int]]]:
    client_id = b"polystream-ready"
    # Request header v1: api_key, api_version, correlation_id, client_id (int16-length string).
    header = struct.pack(">hhih", 3, 4, CORRELATION_ID, len(client_id)) + client_id
    # Metadata v4 body: topics = null (-1: no topic details needed), allow_auto_topic_creation.
    body = struct.pack(">i?", -1, False)
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", read_exact(sock, 4))
        data = read_exact(sock, size)
    correlation_id, _throttle_ms, n_brokers = struct.unpack_from(">iii", data, 0)
    if correlation_id != CORRELATION_ID:
        raise ValueError(f"unexpected correlation id {correlation_id}")
    pos, brokers = 12, []
    for _ in range(n_brokers):
        node_id, host_len = struct.unpack_from(">ih", data, pos)
        pos += 6
        broker_host = data[pos : pos + host_len].decode()
        pos += host_len
        broker_port, rack_len = struct.unpack_from(">ih", data, pos)
        pos += 6 + max(rack_len, 0)
        brokers.append((node_id, broker_host, broker_port))
    return correlation_id, brokers


def main() -> int:
    args = sys.argv[1:]
    host, port = (args[0], int(args[1])) if len(args) == 2 else ("127.0.0.1", int(args[0]))
    try:
        _, brokers = metadata(host, port)
    except (OSError, ValueError, struct.error) as exc:
        print(f"kafka {host}:{port} not ready: {exc}", file=sys.stderr)
        return 1
    if not any(b_port == port for _, _, b_port in brokers):
        print(f"kafka {host}:{port} not ready: live brokers {brokers}", file=sys.stderr)
        return 1
    print(f"kafka {host}:{port} ready: live brokers {brokers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
