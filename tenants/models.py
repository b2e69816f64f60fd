import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from common.scoping import TenantOwnedModel
from mcp_core.permissions import Role
from tenants.enums import Plan, SubscriptionStatus
from tenants.hours import default_business_hours
from tenants.policy import effective_plan, plan_limits
from tenants.validators import validate_business_hours, validate_time_zone


class Company(models.Model):
    """The tenant: one business (salon, practice, workshop) with its branches."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    slug = models.SlugField(max_length=100, unique=True, verbose_name=_("slug"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = models.CharField(
        max_length=20, blank=True, help_text=_("E.164, e.g. +493012345678"), verbose_name=_("phone")
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/Berlin",
        validators=[validate_time_zone],
        verbose_name=_("time zone"),
    )
    default_language = models.CharField(
        max_length=8, default="de", verbose_name=_("default language")
    )
    settings = models.JSONField(default=dict, blank=True, verbose_name=_("settings"))
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_calls_per_hour(self) -> int:
        """The call limit of the plan in force (the orchestrator's rate limit reads it)."""
        return plan_limits(effective_plan(self)).api_calls_per_hour


class Subscription(models.Model):
    """The tenant's plan; a lapsed subscription lowers limits and never deletes data."""

    tenant = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="subscription", verbose_name=_("company")
    )
    plan = models.CharField(
        max_length=20, choices=Plan.choices, default=Plan.BASIC, verbose_name=_("plan")
    )
    status = models.CharField(
        max_length=20,
        choices=SubscriptionStatus.choices,
        default=SubscriptionStatus.ACTIVE,
        verbose_name=_("status"),
    )
    features = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('Feature flags, e.g. {"sms": true, "whatsapp": false}'),
        verbose_name=_("features"),
    )
    stripe_customer_id = models.CharField(
        max_length=64, blank=True, db_index=True, verbose_name=_("Stripe customer ID")
    )
    stripe_subscription_id = models.CharField(
        max_length=64, blank=True, verbose_name=_("Stripe subscription ID")
    )
    current_period_end = models.DateTimeField(
        null=True, blank=True, verbose_name=_("current period end")
    )
    # When the Stripe event last applied here was created: an older event arriving late
    # (Stripe does not guarantee order) must not move the subscription back.
    stripe_event_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("Stripe event time")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=Q(plan__in=Plan.values), name="subscription_plan_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SubscriptionStatus.values), name="subscription_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} · {self.plan} ({self.status})"


class Branch(TenantOwnedModel):
    """A location of the tenant, with its own time zone and opening hours."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="branches", verbose_name=_("company")
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("UUID"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    address = models.CharField(max_length=255, blank=True, verbose_name=_("address"))
    postal_code = models.CharField(max_length=10, blank=True, verbose_name=_("postal code"))
    city = models.CharField(max_length=100, blank=True, verbose_name=_("city"))
    country = models.CharField(max_length=2, default="DE", verbose_name=_("country"))
    phone = models.CharField(max_length=20, blank=True, verbose_name=_("phone"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, verbose_name=_("latitude")
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, verbose_name=_("longitude")
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/Berlin",
        validators=[validate_time_zone],
        verbose_name=_("time zone"),
    )
    business_hours = models.JSONField(
        default=default_business_hours,
        validators=[validate_business_hours],
        verbose_name=_("opening hours"),
    )
    is_active = models.BooleanField(
        default=False, help_text=_("New branches start inactive."), verbose_name=_("active")
    )
    settings = models.JSONField(default=dict, blank=True, verbose_name=_("settings"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="branch_name_unique_per_tenant"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="branch_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="branch_longitude_range",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "is_active"], name="branch_tenant_active_idx")]

    def __str__(self) -> str:
        return self.name


class ApiKey(TenantOwnedModel):
    """A tenant's API key. Only a SHA-256 hash of the secret is stored, looked up by prefix."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("company")
    )
    name = models.CharField(max_length=100, blank=True, verbose_name=_("name"))
    role = models.CharField(max_length=20, choices=Role.choices, verbose_name=_("role"))
    prefix = models.CharField(max_length=16, unique=True, editable=False, verbose_name=_("prefix"))
    key_hash = models.CharField(max_length=64, editable=False, verbose_name=_("key hash"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("last used")
    )
    revoked_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("revoked")
    )
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires"))
    # The MCP toolsets (service names, or "all") listed when the client names none; empty:
    # the assistant default. Written through tenants.services.api_key_set_toolsets.
    toolsets = models.JSONField(default=list, blank=True, verbose_name=_("toolsets"))

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="apikey_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.role})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class OperatorProfile(models.Model):
    """Binds a Django admin user to one tenant; such a user sees only that tenant's rows."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="operator_profile",
        verbose_name=_("user"),
    )
    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="operators", verbose_name=_("company")
    )
    # The highest role this operator may hand to an OAuth client at consent.
    role = models.CharField(
        max_length=20, choices=Role.choices, default=Role.READONLY, verbose_name=_("role")
    )

    class Meta:
        verbose_name = _("operator binding")
        verbose_name_plural = _("operator bindings")

    def __str__(self) -> str:
        return f"{self.user} → {self.tenant}"
