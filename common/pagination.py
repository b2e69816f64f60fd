"""Page-number pagination shared by every list selector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    count: int
    page: int
    next_page: int | None


def paginate(queryset: QuerySet[Any], *, page: int, page_size: int) -> Page[Any]:
    """One page of an ordered queryset (pages start at 1) and whether another follows."""
    count = queryset.count()
    offset = (page - 1) * page_size
    return Page(
        items=list(queryset[offset : offset + page_size]),
        count=count,
        page=page,
        next_page=page + 1 if offset + page_size < count else None,
    )
