"""Run by the chaos tests in a process of their own against a PostgreSQL cluster they started:
`seed` writes a tenant with two bookable staff members and an owner key and prints what a
client needs to book over REST."""

from __future__ import annotations

import json
import sys

import django

django.setup()

from tests.bookings.test_booking_service import make_world  # noqa: E402
from tests.factories import ApiKeyFactory  # noqa: E402


def seed() -> dict[str, object]:
    world = make_world()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    return {
        "tenant_id": world.tenant.pk,
        "token": token,
        "service_id": world.service.pk,
        "branch_id": world.branch.pk,
        "staff_ids": [world.anna.pk, world.ben.pk],
    }


if __name__ == "__main__":
    assert sys.argv[1] == "seed"
    print(json.dumps(seed()))
