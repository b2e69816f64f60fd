"""The routing rule's page: conditions as fields (time windows with weekdays, languages, a
minimum of ongoing calls) instead of JSON, validated by the updateRoutingRules operation's own
input model and checks, so the admin is no back door."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from mcp_core.orchestrator import validation_details
from routing.contracts import RoutingRuleIn
from routing.models import RoutingRule
from routing.rules import MAX_TIME_WINDOWS
from routing.services import routing_rule_errors
from tenants.admin_forms import (
    FROM,
    TO,
    RowsField,
    RowsWidget,
    hh_mm,
    time_field,
    time_input,
)
from tenants.enums import WEEKDAYS
from tenants.validation_messages import WEEKDAY_LABELS, said

EMPTY_WINDOWS = 1  # blank rows offered below the rule's windows (at least two rows in all)


class TimeWindowsWidget(RowsWidget):
    template_name = "routing/widgets/time_windows.html"
    keys = ("start", "end", "weekdays")

    def __init__(self, count: int) -> None:
        super().__init__(
            count,
            lambda: [
                time_input(),
                time_input(),
                forms.CheckboxSelectMultiple(
                    choices=list(WEEKDAY_LABELS.items()), attrs={"class": "askproai-weekdays"}
                ),
            ],
        )

    def cell(self, key: str, value: Any) -> Any:
        return (value or []) if key == "weekdays" else value

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["labels"] = {
            "from": FROM,
            "to": TO,
            "weekdays": _("weekdays (none ticked: every day)"),
        }
        return context


class TimeWindowsField(RowsField):
    """Rows of from, to and weekdays; the filled ones are the API's `time_windows`."""

    def __init__(self, count: int, **kwargs: Any) -> None:
        fields: list[forms.Field] = []
        for i in range(count):
            window = format_lazy("{} {}", _("Window"), i + 1)
            fields += [
                time_field(format_lazy("{} {}", window, FROM)),
                time_field(format_lazy("{} {}", window, TO)),
                forms.MultipleChoiceField(required=False, choices=list(WEEKDAY_LABELS.items())),
            ]
        super().__init__(fields, TimeWindowsWidget(count), **kwargs)

    def compress(self, data_list: list[Any]) -> list[dict[str, Any]]:
        windows: list[dict[str, Any]] = []
        for start, end, weekdays in zip(
            data_list[::3], data_list[1::3], data_list[2::3], strict=True
        ):
            if start is None and end is None and not weekdays:
                continue
            window: dict[str, Any] = {"start": hh_mm(start), "end": hh_mm(end)}
            if weekdays:
                window["weekdays"] = sorted(weekdays, key=WEEKDAYS.index)
            windows.append(window)
        return windows


# A contract field's path → the form field that shows its errors.
_FIELD_OF_PATH = {
    "name": "name",
    "priority": "priority",
    "branch_id": "branch",
    "action": "action",
    "target_branch_id": "target_branch",
    "target_agent_id": "target_agent_id",
    "is_active": "is_active",
    "conditions.time_windows": "time_windows",
    "conditions.languages": "languages",
    "conditions.min_ongoing_calls": "min_ongoing_calls",
}


class RoutingRuleForm(forms.ModelForm):
    """The rules of the updateRoutingRules operation: conditions, action and targets validated
    by the same pydantic model and `routing_rule_errors`, branches of the rule's own tenant."""

    time_windows = TimeWindowsField(EMPTY_WINDOWS + 1, label=_("Time windows"))
    languages = forms.CharField(
        required=False,
        label=_("Caller languages"),
        help_text=_("Two-letter codes separated by commas, e.g. “en, tr”; empty: any language."),
    )
    min_ongoing_calls = forms.IntegerField(
        required=False,
        label=_("From ongoing calls"),
        help_text=_("Applies when at least this many calls are ongoing at the branch."),
    )

    class Meta:
        model = RoutingRule
        fields = (
            "tenant",
            "name",
            "branch",
            "priority",
            "action",
            "target_branch",
            "target_agent_id",
            "is_active",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conditions = self.instance.conditions or {}
        windows = conditions.get("time_windows") or []
        rows = min(max(len(windows) + EMPTY_WINDOWS, EMPTY_WINDOWS + 1), MAX_TIME_WINDOWS)
        self.fields["time_windows"] = TimeWindowsField(rows, label=_("Time windows"))
        self.fields["time_windows"].initial = windows
        self.fields["languages"].initial = ", ".join(conditions.get("languages") or [])
        self.fields["min_ongoing_calls"].initial = conditions.get("min_ongoing_calls")

    def conditions(self) -> dict[str, Any]:
        """The API's `conditions` object from the fields."""
        conditions: dict[str, Any] = {}
        if windows := self.cleaned_data.get("time_windows"):
            conditions["time_windows"] = windows
        languages = re.split(r"[\s,;]+", self.cleaned_data.get("languages") or "")
        if codes := [code for code in languages if code]:
            conditions["languages"] = codes
        if self.cleaned_data.get("min_ongoing_calls") is not None:
            conditions["min_ongoing_calls"] = self.cleaned_data["min_ongoing_calls"]
        return conditions

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if any(name in self.errors for name in ("time_windows", "min_ongoing_calls")):
            return cleaned
        branch, target = cleaned.get("branch"), cleaned.get("target_branch")
        try:
            rule = RoutingRuleIn.model_validate(
                {
                    "name": cleaned.get("name") or "-",
                    "priority": cleaned.get("priority", 100),
                    "branch_id": branch.pk if branch else None,
                    "conditions": self.conditions(),
                    "action": cleaned.get("action"),
                    "target_branch_id": target.pk if target else None,
                    "target_agent_id": cleaned.get("target_agent_id") or None,
                    "is_active": cleaned.get("is_active", True),
                }
            )
        except ValidationError as exc:
            self._add_contract_errors(validation_details(exc))
            return cleaned
        cleaned["conditions"] = rule.conditions.as_json()
        # A superuser picks the tenant on the form; an operator's choices are already scoped to
        # their tenant (TenantScopedAdmin), so the branches are checked against the rule's.
        tenant = cleaned.get("tenant")
        tenant_id = tenant.pk if tenant is not None else self.instance.tenant_id
        chosen = [b for b in (branch, target) if b is not None]
        if tenant_id is not None:
            branches = {b.pk: b for b in chosen if b.tenant_id == tenant_id}
        else:
            branches = {b.pk: b for b in chosen}
        errors = routing_rule_errors([rule], branches)
        self._add_contract_errors({path.split(".", 2)[2]: m for path, m in errors.items()})
        return cleaned

    def _add_contract_errors(self, details: dict[str, list[str]]) -> None:
        for path, messages in details.items():
            field = next(
                (f for p, f in _FIELD_OF_PATH.items() if path == p or path.startswith(f"{p}.")),
                None,
            )
            prefix = ""
            window = re.match(r"conditions\.time_windows\.(\d+)", path)
            if window is not None:
                prefix = f"{_('Window')} {int(window[1]) + 1}: "
            self.add_error(field, [prefix + said(message) for message in messages])
