"""Shared steps of the federation tests: registering through `manage.py mcp upstream`, an SDK
client session on /mcp, and the child processes of this test process."""

from __future__ import annotations

import json
import os
from io import StringIO
from typing import Any

import httpx2
from django.core.management import call_command
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def upstream_cli(*args: str) -> Any:
    out = StringIO()
    call_command("mcp", "upstream", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


async def mcp_session(url: str, token: str, work: Any) -> Any:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
    ):
        return await work(client)


async def list_all(client: Client) -> list[Any]:
    tools, cursor = [], None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            return tools


def children(pattern: str, parent: int | None = None) -> list[int]:
    """Live processes whose parent is `parent` (this process) and whose command line
    contains `pattern`."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == parent and pattern in command:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
