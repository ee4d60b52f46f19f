"""Free local ports for the servers the integration tests start."""

from __future__ import annotations

import socket


def free_tcp_port():
    """A TCP port free on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_dns_port():
    """A port free on 127.0.0.1 for both UDP and TCP (a DNS server listens on both; a port free for UDP alone can be
    an outgoing TCP connection's)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
