from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.scoping import TenantOwnedModel
from staff.enums import TimeBlockKind, Weekday
from staff.schedule import break_errors
from tenants.models import Branch, Company
from tenants.validation_messages import said


class Service(TenantOwnedModel):
    """Something a customer books: a haircut, a check-up, an oil change."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="services", verbose_name=_("company")
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    synonyms = models.JSONField(
        default=list,
        blank=True,
        help_text=_("What callers say for it, e.g. ['Haare schneiden']"),
        verbose_name=_("synonyms"),
    )
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(480)],
        verbose_name=_("duration (minutes)"),
    )
    price = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("EUR, gross"),
        verbose_name=_("price"),
    )
    buffer_before_minutes = models.PositiveSmallIntegerField(
        default=0, verbose_name=_("buffer before (minutes)")
    )
    buffer_after_minutes = models.PositiveSmallIntegerField(
        default=0, verbose_name=_("buffer after (minutes)")
    )
    branches = models.ManyToManyField(
        Branch, related_name="services", blank=True, verbose_name=_("branches")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="service_name_unique_per_tenant"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5, duration_minutes__lte=480),
                name="service_duration_range",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="service_price_not_negative"),
            models.CheckConstraint(
                condition=Q(buffer_before_minutes__lte=240, buffer_after_minutes__lte=240),
                name="service_buffers_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"


class Staff(TenantOwnedModel):
    """A person who performs services at one branch."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="staff", verbose_name=_("company")
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="staff", verbose_name=_("branch")
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = models.CharField(max_length=20, blank=True, verbose_name=_("phone"))
    languages = models.JSONField(
        default=list,
        blank=True,
        help_text=_("ISO codes, e.g. ['de','en']"),
        verbose_name=_("languages"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    rating = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("5"))],
        verbose_name=_("rating"),
    )
    services: models.ManyToManyField[Service, StaffService] = models.ManyToManyField(
        Service, through="StaffService", related_name="staff", verbose_name=_("services")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")
        ordering = ["tenant_id", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=0, rating__lte=5), name="staff_rating_range"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "branch", "is_active"], name="staff_branch_idx")]

    def __str__(self) -> str:
        return self.name


class StaffService(TenantOwnedModel):
    """A staff member's qualification for a service, with a skill level 1 (junior) – 5 (master)."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    staff = models.ForeignKey(
        Staff, on_delete=models.CASCADE, related_name="skills", verbose_name=_("staff")
    )
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="skills", verbose_name=_("service")
    )
    skill_level = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        verbose_name=_("skill level"),
    )

    class Meta:
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        constraints = [
            models.UniqueConstraint(fields=["staff", "service"], name="staff_service_unique"),
            models.CheckConstraint(
                condition=Q(skill_level__gte=1, skill_level__lte=5), name="staff_skill_level_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.service} (level {self.skill_level})"


class WorkingHours(TenantOwnedModel):
    """One working period of a staff member on a weekday, in the branch's time zone.

    Breaks are a list of {"start": "HH:MM", "end": "HH:MM"} inside the period.
    """

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    staff = models.ForeignKey(
        Staff, on_delete=models.CASCADE, related_name="working_hours", verbose_name=_("staff")
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, verbose_name=_("weekday"))
    start_time = models.TimeField(verbose_name=_("start"))
    end_time = models.TimeField(verbose_name=_("end"))
    breaks = models.JSONField(default=list, blank=True, verbose_name=_("breaks"))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["staff_id", "weekday", "start_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "weekday", "start_time"], name="working_hours_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="working_hours_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="working_hours_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"

    def clean(self) -> None:
        if self.start_time and self.end_time:
            if self.end_time <= self.start_time:
                raise ValidationError({"end_time": _("The end must be after the start.")})
            errors = break_errors(self.start_time, self.end_time, self.breaks)
            if errors:
                raise ValidationError({"breaks": [said(error) for error in errors]})


class TimeBlock(TenantOwnedModel):
    """A period a staff member cannot be booked: absence, vacation, sickness, a manual block."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    staff = models.ForeignKey(
        Staff, on_delete=models.CASCADE, related_name="time_blocks", verbose_name=_("staff")
    )
    start_time = models.DateTimeField(verbose_name=_("start"))
    end_time = models.DateTimeField(verbose_name=_("end"))
    kind = models.CharField(
        max_length=20,
        choices=TimeBlockKind.choices,
        default=TimeBlockKind.MANUAL,
        verbose_name=_("kind"),
    )
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="time_block_end_after_start"
            ),
        ]
        # The end first: "overlaps [begin, end)" is end_time > begin AND start_time < end, so
        # the scan starts at `begin` and never reads the staff member's past blocks.
        indexes = [
            models.Index(fields=["staff", "end_time", "start_time"], name="time_block_end_idx")
        ]

    def __str__(self) -> str:
        # The staff member's branch's wall-clock time, as the schedule is planned.
        local = timezone.localtime(self.start_time, ZoneInfo(self.staff.branch.time_zone))
        return f"{self.staff}: {self.get_kind_display()} {local:%d.%m.%Y %H:%M}"

    def clean(self) -> None:
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValidationError({"end_time": _("The end must be after the start.")})
