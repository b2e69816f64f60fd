"""The conversation suite: scripted German phone calls played through signed Retell webhooks
and custom functions against the demo tenant, each checking the sentences the agent hears
and what ends up in the database (scripts in retell_call_scripts.py)."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from bookings import notifications
from mcp_core.management.demo import seed_demo
from tests.integrations.retell_call_scripts import SCRIPTS
from tests.integrations.retell_calls import Script
from tests.integrations.retell_helpers import TEST_KEY, call_object, event, function, post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _retell(settings):
    settings.RETELL_API_KEY = TEST_KEY
    notifications.sent_messages.clear()
    yield
    notifications.sent_messages.clear()


def _filled(args: dict[str, Any], confirmation: str) -> dict[str, Any]:
    return {
        k: v.replace("{confirmation}", confirmation) if isinstance(v, str) else v
        for k, v in args.items()
    }


def test_the_suite_has_at_least_forty_calls():
    assert len(SCRIPTS) >= 40
    assert len({script.name for script in SCRIPTS}) == len(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.name for script in SCRIPTS])
def test_a_scripted_call(client, script: Script):
    with time_machine.travel(script.now, tick=False):
        seed_demo()
        if script.setup is not None:
            script.setup()
        call = call_object(
            f"call_script_{SCRIPTS.index(script):03d}",
            to_number=script.line,
            start_timestamp=int(script.now.timestamp() * 1000),
        )
        assert post(client, event("call_started", call)).status_code == 204
        confirmation = ""
        for step in script.steps:
            response = post(client, function(step.function, _filled(step.args, confirmation), call))
            assert response.status_code == 200, response.content
            answer = response.json()
            # The parts are heard in the order given ("Anna's times, then a colleague's").
            position = 0
            for part in step.says:
                found = answer["result"].find(part, position)
                assert found >= 0, (step.function, part, answer)
                position = found + len(part)
            for key, value in step.data.items():
                assert answer["data"].get(key) == value, (key, answer)
            confirmation = answer["data"].get("confirmation_number") or confirmation
        script.expect()
