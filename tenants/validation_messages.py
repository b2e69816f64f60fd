"""The validators' messages in the console's language.

The rules live once, where the API checks them (tenants.hours, tenants.services, staff.schedule,
staff.services, routing.rules), and speak English: the API's `details` are English by contract.
The console's forms ask the same validators and pass each message through `said`, which puts
the known ones into the active language (German by default) and leaves any other as it is.
"""

from __future__ import annotations

import re

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tenants.enums import WEEKDAYS

WEEKDAY_LABELS: dict[str, Promise] = dict(
    zip(
        WEEKDAYS,
        (
            _("Monday"),
            _("Tuesday"),
            _("Wednesday"),
            _("Thursday"),
            _("Friday"),
            _("Saturday"),
            _("Sunday"),
        ),
        strict=True,
    )
)

_TIME = r"\d\d:\d\d"
_PERIOD = f"{_TIME}–{_TIME}"
_MESSAGES: tuple[tuple[re.Pattern[str], Promise], ...] = tuple(
    (re.compile(f"^{pattern}$"), template)
    for pattern, template in (
        # tenants.hours
        (
            r"an open day needs both 'open' and 'close'",
            _("An open day needs an opening and a closing time."),
        ),
        (r"'close' must be after 'open'", _("The closing time must be after the opening time.")),
        # tenants.services (settings)
        (
            r"\w+ must be whole minutes from (?P<low>\d+) to (?P<high>\d+)\.",
            _("Whole minutes from %(low)s to %(high)s."),
        ),
        (r"At most (?P<n>\d+) keys; this would be (?P<m>\d+)\.", _("At most %(n)s settings.")),
        (
            r"At most (?P<n>\d+) bytes of JSON; this would be (?P<m>\d+)\.",
            _("The settings may take at most %(n)s bytes; these would take %(m)s."),
        ),
        # staff.schedule and staff.services
        (r"Required, as HH:MM\.", _("Enter the time as HH:MM, e.g. 09:30.")),
        (r"Must be after start\.", _("The end must be after the start.")),
        (r"End must be after start\.", _("The end must be after the start.")),
        (
            f"Working periods (?P<first>{_PERIOD}) and (?P<second>{_PERIOD}) overlap\\.",
            _("The working periods %(first)s and %(second)s overlap."),
        ),
        (
            r"break (?P<n>\d+): .* is not a time as HH:MM",
            _("Break %(n)s: enter start and end as HH:MM."),
        ),
        (
            r"break (?P<n>\d+): needs exactly 'start' and 'end'",
            _("Break %(n)s: enter start and end as HH:MM."),
        ),
        (
            r"break (?P<n>\d+): end must be after start",
            _("Break %(n)s: the end must be after the start."),
        ),
        (
            f"break (?P<n>\\d+): must lie inside (?P<period>{_PERIOD})",
            _("Break %(n)s must lie inside the working period %(period)s."),
        ),
        (r"breaks must not overlap", _("Breaks must not overlap.")),
        # routing.rules and routing.contracts
        (r"'start' and 'end' must differ", _("Start and end must differ.")),
        (r"each weekday at most once", _("Each weekday at most once.")),
        (
            r"'(?P<code>.*)' is not an ISO 639-1 language code such as 'de'",
            _("'%(code)s' is not a two-letter language code such as 'de' or 'en'."),
        ),
        (
            r"Input should be greater than or equal to (?P<n>\d+)",
            _("Must be at least %(n)s."),
        ),
        (r"Input should be less than or equal to (?P<n>\d+)", _("Must be at most %(n)s.")),
        (
            r"List should have at most (?P<n>\d+) items? after validation, not \d+",
            _("At most %(n)s entries."),
        ),
        (
            r"route_to_branch needs target_branch_id",
            _("“Route to branch” needs a target branch."),
        ),
        (r"use_agent needs target_agent_id", _("“Use agent” needs an agent ID.")),
        (r"\w+ takes no target_branch_id", _("This action takes no target branch.")),
        (
            r"Not an active branch of this tenant\.",
            _("Not an active branch of this business."),
        ),
        (r"Not a branch of this tenant\.", _("Not a branch of this business.")),
        # after the breaks' own, which name the break
        (r".* is not a time as HH:MM", _("Enter the time as HH:MM, e.g. 09:30.")),
        (r"Must differ from branch_id\.", _("Must differ from the rule's branch.")),
    )
)


def said(message: str) -> str:
    """`message` of a validator in the active language; one it does not know, unchanged."""
    text = str(message).removeprefix("Value error, ")
    for pattern, template in _MESSAGES:
        match = pattern.match(text)
        if match is not None:
            return str(template) % match.groupdict()
    return text
