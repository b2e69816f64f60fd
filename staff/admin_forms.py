"""The service page's synonyms as lines, and the staff page's working hours: one row per
working period (weekday, from, to) with its breaks as from–to fields instead of JSON. The rows
together are the week the API's `updateStaffSchedule` takes; they are checked by
`schedule_errors` and saved by `staff_schedule_update` (StaffAdmin.save_formset), never row by
row."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from staff.models import WorkingHours
from staff.services import schedule_errors
from tenants.admin_forms import (
    FROM,
    TO,
    TextListField,
    TimeRangesField,
    hh_mm,
    time_field,
    time_input,
)
from tenants.enums import WEEKDAYS
from tenants.validation_messages import WEEKDAY_LABELS, said

BREAK_FIELDS = 2  # shown per period; a period with more breaks (from the API) shows them all


class ServiceForm(forms.ModelForm):
    synonyms = TextListField(
        separator=r"\s*\n\s*",
        joiner="\n",
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("synonyms"),
        help_text=_("What callers say for it, one per line, e.g. “Haare schneiden”."),
    )


class WorkingHoursForm(forms.ModelForm):
    start_time = time_field(FROM)
    end_time = time_field(TO)
    breaks = TimeRangesField(BREAK_FIELDS, label=_("Breaks"))

    class Meta:
        model = WorkingHours
        fields = ("weekday", "start_time", "end_time", "breaks")
        widgets = {"start_time": time_input(), "end_time": time_input()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("start_time", "end_time"):
            self.fields[name].required = True
            self.fields[name].widget = time_input()
        stored = len(self.instance.breaks or []) if self.instance.pk is not None else 0
        if stored >= BREAK_FIELDS:
            self.fields["breaks"] = TimeRangesField(stored + 1, label=_("Breaks"))


class WorkingHoursFormSet(BaseInlineFormSet):
    def _rows(self) -> dict[str, list[forms.Form]]:
        """The kept rows by weekday, in the order they are sent to the validator."""
        rows: dict[str, list[forms.Form]] = {day: [] for day in WEEKDAYS}
        for form in self.forms:
            if not form.has_changed() and form.instance.pk is None:
                continue
            if self.can_delete and form.cleaned_data.get("DELETE"):
                continue
            rows[WEEKDAYS[int(form.cleaned_data["weekday"])]].append(form)
        return rows

    def schedule(self) -> dict[str, list[dict[str, Any]]]:
        """The week in the API's shape: weekday → [{start, end, breaks}]."""
        return {
            day: [
                {
                    "start": hh_mm(form.cleaned_data["start_time"]),
                    "end": hh_mm(form.cleaned_data["end_time"]),
                    "breaks": form.cleaned_data.get("breaks") or [],
                }
                for form in forms_of_day
            ]
            for day, forms_of_day in self._rows().items()
        }

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = self._rows()
        problems: list[str] = []
        for path, messages in schedule_errors(self.schedule()).items():
            # "schedule.monday.0.breaks": one row; "schedule.monday": the day's rows together.
            _schedule, day, *rest = [*path.split("."), ""][:4]
            if rest and rest[0].isdigit() and int(rest[0]) < len(rows.get(day, [])):
                field = rest[1] if rest[1] in ("breaks", "start", "end") else None
                field = {"start": "start_time", "end": "end_time"}.get(field or "", field)
                rows[day][int(rest[0])].add_error(field, [said(m) for m in messages])
            else:
                label = WEEKDAY_LABELS.get(day, day)
                problems += [f"{label}: {said(message)}" for message in messages]
        if problems:
            raise forms.ValidationError(problems)
