"""Fixtures of the routing tests; see support.py for the scene."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import time_machine

from mcp_core.auth import Principal
from routing.models import PhoneNumber
from tenants.models import Branch, Company
from tests.factories import BranchFactory, CompanyFactory, PhoneNumberFactory
from tests.operations import principal_for
from tests.routing.support import BERLIN_NUMBER, HAMBURG_NUMBER, NOW


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def tenant() -> Company:
    return CompanyFactory(name="Salon Sonnenschein", phone="+4930120045670")


@pytest.fixture
def berlin(tenant: Company) -> Branch:
    return BranchFactory(
        tenant=tenant,
        name="Berlin Mitte",
        address="Friedrichstraße 123",
        postal_code="10117",
        city="Berlin",
        phone="+4930120045670",
        latitude=Decimal("52.520008"),
        longitude=Decimal("13.404954"),
    )


@pytest.fixture
def hamburg(tenant: Company) -> Branch:
    return BranchFactory(
        tenant=tenant,
        name="Hamburg Altona",
        address="Ottenser Hauptstraße 10",
        postal_code="22765",
        city="Hamburg",
        phone="+4940120045670",
        latitude=Decimal("53.550341"),
        longitude=Decimal("9.935170"),
    )


@pytest.fixture
def berlin_number(berlin: Branch) -> PhoneNumber:
    return PhoneNumberFactory(
        branch=berlin, number=BERLIN_NUMBER, retell_agent_id="agent_berlin_de", language="de"
    )


@pytest.fixture
def hamburg_number(hamburg: Branch) -> PhoneNumber:
    return PhoneNumberFactory(
        branch=hamburg, number=HAMBURG_NUMBER, retell_agent_id="agent_hamburg_de", language="de"
    )


@pytest.fixture
def numbers(berlin_number: PhoneNumber, hamburg_number: PhoneNumber) -> None:
    return None


@pytest.fixture
def owner(tenant: Company) -> Principal:
    return principal_for(tenant)
