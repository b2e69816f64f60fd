"""Great-circle distance between two points, for nearest-branch routing.

Computed in Python rather than SQL: a tenant has a handful of branches, so one query loads
them all and the same code runs on SQLite and PostgreSQL (no trigonometry in SQLite, no
PostGIS needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float

    @classmethod
    def of(cls, lat: float | Decimal | None, lng: float | Decimal | None) -> Point | None:
        """A point, or None when either coordinate is missing."""
        if lat is None or lng is None:
            return None
        return cls(float(lat), float(lng))


def haversine_km(a: Point, b: Point) -> float:
    """Distance in kilometres along the Earth's surface (haversine formula)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    d_lat = lat2 - lat1
    d_lng = math.radians(b.lng - a.lng)
    h = math.sin(d_lat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(d_lng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
