"""Console form fields that replace raw JSON text boxes: an opening-hours grid per weekday and a
row of time ranges (breaks). Each builds the JSON shape the API takes; whether it is valid is
asked of the API's own validators (tenants.services.branch_changes_errors,
staff.services.schedule_errors, routing.contracts.RoutingRuleIn), whose messages the console
shows through tenants.validation_messages.said."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tenants import services
from tenants.enums import WEEKDAYS
from tenants.errors import PlanLimitReached
from tenants.models import Branch, Company
from tenants.settings_limits import BRANCH_DEFAULT_SETTINGS, BRANCH_MINUTE_SETTINGS
from tenants.validation_messages import WEEKDAY_LABELS, said

HH_MM = "%H:%M"
# A time range's ends ("to" alone is an SMS's recipient in the catalogue).
FROM = pgettext_lazy("time range", "from")
TO = pgettext_lazy("time range", "to")


def hh_mm(value: dt.time | None) -> str | None:
    return value.strftime(HH_MM) if value is not None else None


def time_field(label: Any) -> forms.TimeField:
    """An optional HH:MM time; any other spelling (9, 9.30, seconds) is refused, not guessed."""
    return forms.TimeField(
        required=False,
        input_formats=[HH_MM],
        label=label,
        error_messages={"invalid": format_lazy("{}: {}", label, _("enter the time as HH:MM."))},
    )


def stored_rows(value: Any) -> bool:
    """A JSON list of objects as stored (decompress it), not the widgets' posted values."""
    return isinstance(value, list) and all(isinstance(item, Mapping) for item in value)


def time_input() -> forms.TimeInput:
    # A stored time renders as HH:MM (not 09:00:00), so a row saved back unchanged is valid.
    return forms.TimeInput(format=HH_MM, attrs={"size": 5, "maxlength": 5, "placeholder": "HH:MM"})


class WeekHoursWidget(forms.MultiWidget):
    template_name = "tenants/widgets/week_hours.html"

    def __init__(self) -> None:
        widgets: list[forms.Widget] = []
        for _day in WEEKDAYS:
            widgets += [forms.CheckboxInput(), time_input(), time_input()]
        super().__init__(widgets)

    def decompress(self, value: Any) -> list[Any]:
        week = value if isinstance(value, Mapping) else {}
        values: list[Any] = []
        for day in WEEKDAYS:
            hours = week.get(day)
            hours = hours if isinstance(hours, Mapping) else {}
            values += [hours.get("is_open", False), hours.get("open"), hours.get("close")]
        return values

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        cells = context["widget"]["subwidgets"]
        context["widget"]["rows"] = [
            {"name": day, "label": WEEKDAY_LABELS[day], "cells": cells[3 * i : 3 * i + 3]}
            for i, day in enumerate(WEEKDAYS)
        ]
        context["widget"]["labels"] = {"open": _("open"), "from": FROM, "to": TO}
        return context


class WeekHoursField(forms.MultiValueField):
    """Per weekday: open or closed, from, to — as tenants.hours stores them (one interval a
    day); the result is the `business_hours` object of the API."""

    widget = WeekHoursWidget

    def __init__(self, **kwargs: Any) -> None:
        fields: list[forms.Field] = []
        for day in WEEKDAYS:
            label = WEEKDAY_LABELS[day]
            fields += [
                forms.BooleanField(required=False),
                time_field(format_lazy("{} {}", label, FROM)),
                time_field(format_lazy("{} {}", label, TO)),
            ]
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dict[str, dict[str, Any]]:
        values = list(data_list) or [False, None, None] * len(WEEKDAYS)
        return {
            day: {
                "open": hh_mm(values[3 * i + 1]),
                "close": hh_mm(values[3 * i + 2]),
                "is_open": bool(values[3 * i]),
            }
            for i, day in enumerate(WEEKDAYS)
        }


class RowsWidget(forms.MultiWidget):
    """A few rows of the same inputs, stored as the API's list of mappings: `keys` names each
    input's entry in a row. The template gets `widget.rows`, the subwidgets row by row."""

    keys: tuple[str, ...] = ()

    def __init__(self, count: int, row: Callable[[], list[forms.Widget]]) -> None:
        super().__init__([widget for _i in range(count) for widget in row()])

    def decompress(self, value: Any) -> list[Any]:
        rows = value if isinstance(value, list) else []
        flat: list[Any] = []
        for row in rows:
            row = row if isinstance(row, Mapping) else {}
            flat += [self.cell(key, row.get(key)) for key in self.keys]
        return flat + [None] * (len(self.widgets) - len(flat))

    def cell(self, key: str, value: Any) -> Any:
        """What the input of `key` shows for a stored `value`."""
        return value

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        if stored_rows(value):  # MultiWidget decompresses anything but a list
            value = self.decompress(value)
        context = super().get_context(name, value, attrs)
        cells, width = context["widget"]["subwidgets"], len(self.keys)
        context["widget"]["rows"] = [cells[i : i + width] for i in range(0, len(cells), width)]
        return context


class TimeRangesWidget(RowsWidget):
    template_name = "tenants/widgets/time_ranges.html"
    keys = ("start", "end")

    def __init__(self, count: int) -> None:
        super().__init__(count, lambda: [time_input(), time_input()])


class RowsField(forms.MultiValueField):
    """The field of a RowsWidget: `fields` row by row, none of them required (an empty row is
    no row); `compress` gives the API's list."""

    def __init__(self, fields: Sequence[forms.Field], widget: RowsWidget, **kwargs: Any) -> None:
        kwargs.setdefault("widget", widget)
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def has_changed(self, initial: Any, data: Any) -> bool:
        if stored_rows(initial):  # as in the widget: a stored list is not the posted values
            initial = self.widget.decompress(initial)
        return super().has_changed(initial, data)


class TimeRangesField(RowsField):
    """A few from–to pairs (a working period's breaks) as the API's [{"start", "end"}]; a pair
    left empty is no range, a half-filled one goes to the validator, which names it."""

    def __init__(self, count: int, **kwargs: Any) -> None:
        fields = [time_field(label) for _i in range(count) for label in (FROM, TO)]
        super().__init__(fields, TimeRangesWidget(count), **kwargs)

    def compress(self, data_list: list[Any]) -> list[dict[str, str | None]]:
        pairs = zip(data_list[::2], data_list[1::2], strict=True)
        return [
            {"start": hh_mm(start), "end": hh_mm(end)}
            for start, end in pairs
            if start is not None or end is not None
        ]


class TextListField(forms.CharField):
    """A JSON list of texts as one text: entries split at `separator` (a regex), blanks
    dropped; each entry must match `pattern` when one is given (after `lower`)."""

    def __init__(
        self,
        *,
        separator: str = r"\s*,\s*",
        pattern: re.Pattern[str] | None = None,
        lower: bool = False,
        joiner: str = ", ",
        **kwargs: Any,
    ) -> None:
        self.separator, self.pattern, self.lower, self.joiner = separator, pattern, lower, joiner
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return self.joiner.join(map(str, value)) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        items = [item.strip() for item in re.split(self.separator, text) if item.strip()]
        items = [item.lower() for item in items] if self.lower else items
        pattern = self.pattern
        if pattern is not None and (wrong := [i for i in items if not pattern.match(i)]):
            raise forms.ValidationError(
                self.error_messages["invalid"], params={"items": ", ".join(wrong)}
            )
        return list(dict.fromkeys(items))


def minutes_field(key: str, label: Any) -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        label=label,
        help_text=format_lazy(
            "{} {}", _("Empty: the default of"), BRANCH_DEFAULT_SETTINGS.get(key, "—")
        ),
    )


class BranchForm(forms.ModelForm):
    """Opening hours as a grid and the settings the availability engine reads as number
    fields, checked by `branch_changes_errors` and saved through `branch_update`
    (BranchAdmin.save_model); settings keys the form does not show stay as they are. A new
    branch needs room under the plan's branch limit; the admin's save runs in the transaction
    that holds the tenant lock. The request's tenant is set by BranchAdmin."""

    opening_hours = WeekHoursField(label=_("Opening hours"))
    slot_interval_minutes = minutes_field("slot_interval_minutes", _("Slot interval (minutes)"))
    min_notice_minutes = minutes_field("min_notice_minutes", _("Minimum notice (minutes)"))

    request_tenant: Company | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        branch: Branch = self.instance
        self.fields["opening_hours"].initial = branch.business_hours
        current = branch.settings if branch.pk is not None else BRANCH_DEFAULT_SETTINGS
        for key in BRANCH_MINUTE_SETTINGS:
            self.fields[key].initial = current.get(key)

    def service_changes(self) -> services.BranchChanges:
        """What `branch_update` is given: the whole week, and the shown settings (None drops
        a key, so the engine's default applies)."""
        changes: services.BranchChanges = {
            "settings": {key: self.cleaned_data.get(key) for key in BRANCH_MINUTE_SETTINGS}
        }
        if self.cleaned_data.get("opening_hours") is not None:
            changes["business_hours"] = self.cleaned_data["opening_hours"]
        return changes

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        tenant = cleaned.get("tenant") or self.request_tenant
        if self.instance.pk is None and tenant is not None:
            try:
                services.branch_room_check(tenant=tenant)
            except PlanLimitReached as exc:
                raise forms.ValidationError(exc.message) from exc
        if "opening_hours" not in self.errors:
            current = self.instance.settings if self.instance.pk is not None else {}
            errors = services.branch_changes_errors(
                changes=self.service_changes(), current_settings=current or {}
            )
            for path, messages in errors.items():
                self._add_service_errors(path, messages)
        return cleaned

    def _add_service_errors(self, path: str, messages: list[str]) -> None:
        if path.startswith("business_hours"):
            day = path.split(".")[1] if "." in path else ""
            prefix = f"{WEEKDAY_LABELS[day]}: " if day in WEEKDAY_LABELS else ""
            self.add_error("opening_hours", [prefix + said(message) for message in messages])
            return
        for message in messages:
            key = next((k for k in BRANCH_MINUTE_SETTINGS if message.startswith(f"{k} ")), None)
            self.add_error(key, said(message))
