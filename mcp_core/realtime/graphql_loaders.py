"""Nested GraphQL fields (a booking's customer, staff member and service; a branch's bookings)
read in batches: one DataLoader per request and kind collects every id a query asks for and
runs one operation for the lot, through the orchestrator as the caller. So a list of bookings
costs the same few operations whatever its length (no N+1), and the caller's role and tenant
decide what each nested read may return, as for the top-level fields."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from mcp_core.operations import MAX_PAGE_SIZE
from mcp_core.realtime.graphql_calls import run_operation

# The batch operations take at most this many ids (customer.getCustomers).
MAX_BATCH = 100

BranchDay = tuple[int, str, str | None]  # branch id, local date, status or None


def _loader(info: Info, kind: str, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]) -> Any:
    loaders: dict[str, DataLoader[Any, Any]] = info.context.setdefault("loaders", {})
    if kind not in loaders:
        loaders[kind] = DataLoader(load_fn=load, max_batch_size=MAX_BATCH)
    return loaders[kind]


async def _pages(info: Info, name: str, args: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Every item of a paginated list operation, MAX_PAGE_SIZE at a time."""
    items: list[dict[str, Any]] = []
    page: int | None = 1
    while page is not None:
        result = await run_operation(info, name, {**args, "page": page, "page_size": MAX_PAGE_SIZE})
        items.extend(result[key])
        page = result["next_page"]
    return items


def _by_id(rows: list[dict[str, Any]], ids: Sequence[Hashable]) -> list[Any]:
    found = {row["id"]: row for row in rows}
    return [found.get(ident) for ident in ids]


def customer_of(info: Info, customer_id: int) -> Awaitable[dict[str, Any] | None]:
    async def load(ids: list[int]) -> list[Any]:
        result = await run_operation(info, "customer.getCustomers", {"customer_ids": ids})
        return _by_id(result["customers"], ids)

    return _loader(info, "customer", load).load(customer_id)


def staff_of(info: Info, staff_id: int) -> Awaitable[dict[str, Any] | None]:
    # The tenant's whole staff list, in pages of 100: bounded by the team's size, not by how
    # many bookings name a staff member.
    async def load(ids: list[int]) -> list[Any]:
        return _by_id(await _pages(info, "staff.listStaff", {}, "staff"), ids)

    return _loader(info, "staff", load).load(staff_id)


def service_of(info: Info, service_id: int) -> Awaitable[dict[str, Any] | None]:
    async def load(ids: list[int]) -> list[Any]:
        result = await run_operation(info, "staff.listServices", {})
        return _by_id(result["services"], ids)

    return _loader(info, "service", load).load(service_id)


def bookings_of(info: Info, key: BranchDay) -> Awaitable[list[dict[str, Any]]]:
    """A branch's bookings of one local day: one booking.listBookings of the tenant's day for
    all branches asked about, split by branch."""

    async def load(keys: list[BranchDay]) -> list[Any]:
        days: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        for _, date, status in keys:
            if (date, status) not in days:
                args: dict[str, Any] = {"date": date}
                if status is not None:
                    args["status"] = status
                days[(date, status)] = await _pages(info, "booking.listBookings", args, "bookings")
        split: dict[BranchDay, list[dict[str, Any]]] = defaultdict(list)
        for (date, status), rows in days.items():
            for row in rows:
                split[(row["branch_id"], date, status)].append(row)
        return [split.get(key, []) for key in keys]

    return _loader(info, "branch_bookings", load).load(key)


def branch_of(info: Info, branch_id: int) -> Awaitable[dict[str, Any] | None]:
    async def load(ids: list[int]) -> list[Any]:
        return _by_id(await _pages(info, "tenant.listBranches", {}, "branches"), ids)

    return _loader(info, "branch", load).load(branch_id)
