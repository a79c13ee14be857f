"""The TCP proxy the database fault tests rely on: frozen it is silent, thawed it resets what it held."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.faults.fault_proxy import TcpProxy


@pytest.fixture
def echo_proxy() -> Iterator[TcpProxy]:
    """Return a TcpProxy in front of a loopback echo server."""
    server = socket.create_server(("127.0.0.1", 0))

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(1024):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    proxy = TcpProxy("127.0.0.1", server.getsockname()[1])
    yield proxy
    proxy.close()
    server.close()


def test_thaw_resets_a_connection_left_waiting_for_an_answer(echo_proxy: TcpProxy) -> None:
    client = socket.create_connection(("127.0.0.1", echo_proxy.port), timeout=5)
    with client:
        _freeze_then_thaw(echo_proxy, client)
    with socket.create_connection(("127.0.0.1", echo_proxy.port), timeout=5) as fresh:
        fresh.sendall(b"again")
        assert fresh.recv(16) == b"again"


def _freeze_then_thaw(echo_proxy: TcpProxy, client: socket.socket) -> None:
    client.sendall(b"ping")
    assert client.recv(16) == b"ping"
    echo_proxy.freeze()
    client.sendall(b"lost")  # swallowed: the client now waits for an answer that never comes
    client.settimeout(0.5)
    with pytest.raises(TimeoutError):
        client.recv(16)
    echo_proxy.thaw()
    client.settimeout(5)
    # Before thaw shut the sockets down, this waited forever: the pipe thread blocked in recv()
    # kept the closed socket open, so the reset the fault tests count on never happened.
    with contextlib.suppress(ConnectionResetError):  # a reset is an answer too
        assert client.recv(16) == b""
