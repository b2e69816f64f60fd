"""MCP resources, prompts and completion over /mcp: tenant-scoped reads through the same
operations as the tools, with the official SDK client against a live server and edge cases
through Django's test client."""

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

import httpx2
import pytest
import time_machine
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    BranchFactory,
    ServiceFactory,
    StaffFactory,
)

BERLIN = ZoneInfo("Europe/Berlin")


def rpc(client, token, method, params=None):
    return client.post(
        "/mcp",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
    )


@pytest.fixture
def salon():
    api_key, token = ApiKeyFactory.create_with_plaintext(role="staff")
    mitte = BranchFactory(tenant=api_key.tenant, name="Berlin Mitte")
    BranchFactory(tenant=api_key.tenant, name="Berlin Pankow")
    ServiceFactory(tenant=api_key.tenant, name="Herrenschnitt")
    ServiceFactory(tenant=api_key.tenant, name="Färben")
    return api_key.tenant, token, mitte


@pytest.mark.django_db(transaction=True)
def test_sdk_client_lists_and_reads_resources_gets_prompts_and_completes(live_server, salon):
    _, token, mitte = salon

    async def work(client):
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        hours = await client.read_resource(f"askproai://branches/{mitte.pk}/opening-hours")
        services = await client.read_resource("askproai://services")
        prompts = (await client.list_prompts()).prompts
        prompt = await client.get_prompt("book_appointment", {"caller_phone": "+4930123456"})
        completion = await client.complete(
            {"type": "ref/prompt", "name": "book_appointment"},
            {"name": "service", "value": "her"},
        )
        return resources, templates, hours, services, prompts, prompt, completion

    async def run():
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
            Client(streamable_http_client(f"{live_server.url}/mcp", http_client=http)) as client,
        ):
            return await work(client)

    resources, templates, hours, services, prompts, prompt, completion = asyncio.run(run())
    uris = [str(r.uri) for r in resources]
    assert uris[:3] == ["askproai://branches", "askproai://services", "askproai://schedule/today"]
    assert f"askproai://branches/{mitte.pk}/opening-hours" in uris and len(uris) == 5
    assert str(templates[0].uri_template) == "askproai://branches/{branch_id}/opening-hours"
    read_hours = json.loads(hours.contents[0].text)
    assert read_hours["name"] == "Berlin Mitte" and read_hours["business_hours"]["monday"]
    names = {s["name"] for s in json.loads(services.contents[0].text)["services"]}
    assert names == {"Herrenschnitt", "Färben"}
    assert {p.name for p in prompts} == {"book_appointment", "move_appointment", "summarize_day"}
    text = prompt.messages[0].content.text
    assert "+4930123456" in text and "booking_createBooking" in text
    assert completion.completion.values == ["Herrenschnitt"]


@pytest.mark.django_db
def test_another_tenants_branch_is_not_found(client, salon):
    _, token, _ = salon
    theirs = BranchFactory(name="Hamburg")
    error = rpc(
        client, token, "resources/read", {"uri": f"askproai://branches/{theirs.pk}/opening-hours"}
    ).json()["error"]
    assert error["code"] == -32002
    assert error["data"]["error"]["type"] == "RESOURCE_NOT_FOUND"
    listed = rpc(client, token, "resources/list").json()["result"]["resources"]
    assert f"askproai://branches/{theirs.pk}/opening-hours" not in [r["uri"] for r in listed]
    completion = rpc(
        client,
        token,
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "summarize_day"},
            "argument": {"name": "branch", "value": ""},
        },
    ).json()["result"]["completion"]
    assert completion["values"] == ["Berlin Mitte", "Berlin Pankow"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("resources/read", {"uri": "askproai://nothing"}, -32002),
        ("resources/read", {"uri": "https://example.com/x"}, -32002),
        ("resources/read", {"uri": "askproai://branches?page=0"}, -32602),
        ("resources/list", {"cursor": "forged"}, -32602),
        ("prompts/get", {"name": "nope"}, -32602),
        ("prompts/get", {"name": "book_appointment", "arguments": {}}, -32602),
        ("prompts/get", {"name": "book_appointment", "arguments": {"caller_phone": 1}}, -32602),
        ("completion/complete", {"ref": "x"}, -32602),
    ],
)
def test_bad_requests_are_clear_errors(client, salon, method, params, code):
    _, token, _ = salon
    response = rpc(client, token, method, params)
    assert response.status_code == 200
    assert response.json()["error"]["code"] == code


@pytest.mark.django_db
def test_todays_schedule_is_the_tenants_day_across_the_dst_change(client, salon):
    _, token, mitte = salon
    staff = StaffFactory(branch=mitte)
    today = AppointmentFactory(
        staff=staff, start_time=dt.datetime(2027, 3, 28, 10, 0, tzinfo=BERLIN)
    )
    AppointmentFactory(staff=staff, start_time=dt.datetime(2027, 3, 27, 18, 0, tzinfo=BERLIN))
    # 00:30 in Berlin on the night clocks go forward: still the 27th in UTC.
    with time_machine.travel(dt.datetime(2027, 3, 27, 23, 30, tzinfo=dt.UTC), tick=False):
        result = rpc(client, token, "resources/read", {"uri": "askproai://schedule/today"})
    content = json.loads(result.json()["result"]["contents"][0]["text"])
    assert [b["id"] for b in content["bookings"]] == [today.pk]
