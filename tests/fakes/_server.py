"""The part every fake shares: a threaded HTTP server on 127.0.0.1 that records each request
and can be told to fail, to answer slowly or to hang."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]  # the form-encoded body, in order
    query: dict[str, str]

    def field(self, name: str) -> str | None:
        return next((value for key, value in self.form if key == name), None)


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    remaining: int  # how many more requests fail this way


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Recorded], Response]


class FakeServer:
    """Subclasses implement `route(request) -> Response`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.delay_seconds = 0.0
        self._failures: list[Failure] = []
        self._lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `FakeServer.requests`, not the access log."""

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=url.path,
                    headers={key.lower(): value for key, value in self.headers.items()},
                    form=parse_qsl(raw, keep_blank_values=True),
                    query=dict(parse_qsl(url.query)),
                )
                response = fake._respond(recorded)
                payload = json.dumps(response.body).encode()
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a time-out test)

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---------------------------------------------------------------------------- control

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, body: dict[str, Any], times: int = 1) -> None:
        """The next `times` requests get `status` with `body` instead of being served."""
        with self._lock:
            self._failures.append(Failure(status, body, times))

    def answer_slowly(self, seconds: float) -> None:
        """Wait `seconds` before every answer (longer than the client's time-out: a hang)."""
        self.delay_seconds = seconds

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self.delay_seconds = 0.0

    # ---------------------------------------------------------------------------- serving

    def _respond(self, request: Recorded) -> Response:
        with self._lock:
            self.requests.append(request)
            failure = self._failures[0] if self._failures else None
            if failure is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        if failure is not None:
            return Response(failure.status, failure.body)
        with self._lock:
            return self.route(request)

    def route(self, request: Recorded) -> Response:
        raise NotImplementedError
