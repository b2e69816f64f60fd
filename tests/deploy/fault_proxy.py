"""A TCP proxy for chaos tests, in front of a local fake: `pass` forwards both ways, `hang`
accepts and reads but never answers (a black hole: the client waits for its time-out), `drop`
accepts and closes at once. The mode can change while it runs; `connections` counts what came."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Literal

Mode = Literal["pass", "hang", "drop"]


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode: Mode = "pass"
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._held: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def held_client_ports(self) -> list[int]:
        """The client-side ports of the connections held in `hang` mode, oldest first: with
        the client's address they name the process waiting for an answer."""
        ports = []
        for held in self._held:
            with contextlib.suppress(OSError):  # closed meanwhile
                ports.append(int(held.getpeername()[1]))
        return ports

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed.set()
        self._listener.close()
        for held in self._held:
            held.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.mode == "drop":
                client.close()
            elif self.mode == "hang":
                self._held.append(client)  # read by nobody, answered never
            else:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
