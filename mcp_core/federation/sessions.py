"""Long-lived client sessions to upstreams, one event-loop thread per process.

Django's views are synchronous and the `mcp` SDK is asyncio; a session must be entered and
left by one task. So each process (each gunicorn/Celery worker, after its fork) starts one
daemon thread running an event loop that owns every session: one task per connection holds
the SDK `Client` open, and calls from request threads are coroutines handed to that loop.
Why not a session per call: opening one costs 0.2–0.5 s (a process start for stdio).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, Tool

from mcp_core.observability import logger

T = TypeVar("T")

# How long a stopping connection may take to close its process (the SDK closes stdin, waits,
# then kills the process group).
_STOP_SECONDS = 10.0


class UpstreamUnreachable(Exception):
    """The upstream could not be started or connected, or its connection broke mid-call."""


@dataclass(frozen=True)
class Target:
    """What to connect to. `key` names one connection: an upstream, and the tenant for
    upstreams started per tenant (a `{tenant_id}` in the command or environment)."""

    key: str
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str = ""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Client]:
        """An initialized client session; leaving it ends the process or the HTTP session."""
        if self.command:
            params = StdioServerParameters(
                command=self.command[0], args=list(self.command[1:]), env=dict(self.env)
            )
            async with Client(params, mode="legacy") as client:
                yield client
            return
        # Upstream headers only (its own token): the caller's API key is never among them.
        async with (
            httpx2.AsyncClient(headers=dict(self.headers), timeout=30.0) as http,
            Client(streamable_http_client(self.url, http_client=http), mode="legacy") as client,
        ):
            yield client


class _Connection:
    """One open session, held by its owner task until `stop`."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client: Client | None = None
        self.error: BaseException | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        return self.client is not None and not self._stop.is_set()

    async def start(self, timeout: float) -> None:
        self._task = asyncio.create_task(self._own(), name=f"mcp-upstream {self.target.key}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            await self.stop()
            raise UpstreamUnreachable("the upstream did not answer initialize in time") from None
        if self.client is None:
            raise UpstreamUnreachable(_describe(self.error))

    async def _own(self) -> None:
        try:
            async with self.target.client() as client:
                self.client = client
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:  # the connection failed or broke: the pool starts another
            self.error = exc
            logger.warning("federation.connection_ended", key=self.target.key, error=_describe(exc))
        finally:
            self.client = None
            self._stop.set()
            self._ready.set()

    async def stop(self) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), _STOP_SECONDS)
        except TimeoutError:
            task.cancel()


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "the upstream closed the connection"
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    return f"{exc.__class__.__name__}: {exc}"[:500]


class SessionPool:
    """The process's connections to upstreams, owned by one event-loop thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mcp-federation", daemon=True
        )
        self._thread.start()
        self._connections: dict[str, _Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coro` on the pool's loop, waiting at most `timeout` seconds (then it is
        cancelled there and TimeoutError raised here)."""
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), self._loop)
        return future.result(timeout + _STOP_SECONDS)

    async def _connection(self, target: Target, timeout: float) -> Client:
        lock = self._locks.setdefault(target.key, asyncio.Lock())
        async with lock:
            connection = self._connections.get(target.key)
            if connection is None or not connection.open:
                connection = _Connection(target)
                self._connections[target.key] = connection
                await connection.start(timeout)
            assert connection.client is not None  # noqa: S101 — open means a client
            return connection.client

    async def _discard(self, key: str) -> None:
        connection = self._connections.pop(key, None)
        if connection is not None:
            await connection.stop()

    async def call_tool(
        self, target: Target, tool: str, arguments: dict[str, Any], timeout: float
    ) -> CallToolResult:
        """Raises UpstreamUnreachable (no connection, or it broke: it is replaced), TimeoutError
        and MCPError (the upstream answered with a JSON-RPC error)."""
        client = await self._connection(target, timeout)
        try:
            return await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code >= -32099 and exc.code <= -32000:  # closed, timed out: not an answer
                await self._replace(target)
                raise UpstreamUnreachable(exc.error.message) from exc
            raise
        except (asyncio.CancelledError, TimeoutError):
            await self._replace(target)
            raise
        except Exception as exc:
            await self._replace(target)
            raise UpstreamUnreachable(_describe(exc)) from exc

    async def _replace(self, target: Target) -> None:
        """A broken connection goes; a new one is started at once in the background, so the
        next call finds the upstream running again (a process restarted)."""
        await self._discard(target.key)
        self._loop.create_task(self._restart(target))

    async def _restart(self, target: Target) -> None:
        try:
            await self._connection(target, timeout=30.0)
        except (UpstreamUnreachable, TimeoutError) as exc:
            logger.warning("federation.restart_failed", key=target.key, error=_describe(exc))

    async def list_tools(self, target: Target, timeout: float) -> list[Tool]:
        client = await self._connection(target, timeout)
        tools: list[Tool] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            tools += page.tools
            cursor = page.next_cursor
            if cursor is None:
                return tools

    async def probe(self, target: Target, timeout: float) -> list[Tool]:
        """A health check on a connection of its own: a real initialize and tools/list."""
        connection = _Connection(target)
        try:
            await connection.start(timeout)
            assert connection.client is not None  # noqa: S101 — started means a client
            page = await connection.client.list_tools(cache_mode="bypass")
            return list(page.tools)
        finally:
            await connection.stop()

    async def close_all(self) -> None:
        for key in list(self._connections):
            await self._discard(key)

    def close(self) -> None:
        """Stop every connection (their processes end) and the loop."""
        try:
            self.run(self.close_all(), _STOP_SECONDS * 2)
        except (TimeoutError, RuntimeError):
            logger.warning("federation.close_incomplete")
        self._loop.call_soon_threadsafe(self._loop.stop)


_pool: SessionPool | None = None
_pool_lock = threading.Lock()


def pool() -> SessionPool:
    """This process's pool, started on first use (so after a fork, in the child)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = SessionPool()
        return _pool


def close_pool() -> None:
    global _pool
    with _pool_lock:
        current, _pool = _pool, None
    if current is not None:
        current.close()


def _forget_after_fork() -> None:
    # The child has no copy of the loop thread; the parent's processes stay the parent's.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_pool)
