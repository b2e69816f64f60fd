"""factory-boy factories for every model; children take their parent's tenant."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from bookings.confirmation import new_confirmation_number
from bookings.enums import AppointmentSource, AppointmentStatus
from bookings.models import Appointment, Customer
from mcp_core.models import AuditLog
from mcp_core.permissions import Role
from routing.models import CallLog, PhoneNumber, RoutingRule
from staff.models import Service, Staff, StaffService, TimeBlock, WorkingHours
from tenants.api_keys import generate_key
from tenants.enums import Plan
from tenants.hours import default_business_hours
from tenants.models import ApiKey, Branch, Company, OperatorProfile, Subscription


class CompanyFactory(factory.django.DjangoModelFactory[Company]):
    class Meta:
        model = Company
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Salon {n}")
    slug = factory.Sequence(lambda n: f"salon-{n}")
    subscription = factory.RelatedFactory(
        "tests.factories.SubscriptionFactory", factory_related_name="tenant"
    )


class SubscriptionFactory(factory.django.DjangoModelFactory[Subscription]):
    class Meta:
        model = Subscription

    tenant = factory.SubFactory(CompanyFactory, subscription=None)
    plan = Plan.PROFESSIONAL


class BranchFactory(factory.django.DjangoModelFactory[Branch]):
    class Meta:
        model = Branch

    tenant = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Filiale {n}")
    city = "Berlin"
    latitude = Decimal("52.520008")
    longitude = Decimal("13.404954")
    business_hours = factory.LazyFunction(default_business_hours)
    is_active = True


class ApiKeyFactory(factory.django.DjangoModelFactory[ApiKey]):
    class Meta:
        model = ApiKey

    tenant = factory.SubFactory(CompanyFactory)
    role = Role.OWNER
    prefix = factory.Sequence(lambda n: f"{n:08x}")
    key_hash = factory.LazyFunction(lambda: generate_key().key_hash)

    @classmethod
    def create_with_plaintext(cls, **kwargs: Any) -> tuple[ApiKey, str]:
        """A key whose plaintext the test can present as a Bearer token."""
        generated = generate_key()
        api_key = cls.create(prefix=generated.prefix, key_hash=generated.key_hash, **kwargs)
        return api_key, generated.plaintext


class ServiceFactory(factory.django.DjangoModelFactory[Service]):
    class Meta:
        model = Service

    tenant = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Haarschnitt {n}")
    duration_minutes = 30
    price = Decimal("29.00")


class StaffFactory(factory.django.DjangoModelFactory[Staff]):
    class Meta:
        model = Staff

    branch = factory.SubFactory(BranchFactory)
    tenant = factory.SelfAttribute("branch.tenant")
    name = factory.Sequence(lambda n: f"Mitarbeiter {n}")
    languages = factory.LazyFunction(lambda: ["de"])
    rating = Decimal("4.50")


class StaffServiceFactory(factory.django.DjangoModelFactory[StaffService]):
    class Meta:
        model = StaffService

    staff = factory.SubFactory(StaffFactory)
    tenant = factory.SelfAttribute("staff.tenant")
    service = factory.SubFactory(ServiceFactory, tenant=factory.SelfAttribute("..tenant"))
    skill_level = 3


class WorkingHoursFactory(factory.django.DjangoModelFactory[WorkingHours]):
    class Meta:
        model = WorkingHours

    staff = factory.SubFactory(StaffFactory)
    tenant = factory.SelfAttribute("staff.tenant")
    weekday = 0
    start_time = dt.time(9)
    end_time = dt.time(18)
    breaks = factory.LazyFunction(lambda: [{"start": "12:30", "end": "13:00"}])


class TimeBlockFactory(factory.django.DjangoModelFactory[TimeBlock]):
    class Meta:
        model = TimeBlock

    staff = factory.SubFactory(StaffFactory)
    tenant = factory.SelfAttribute("staff.tenant")
    start_time = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
    end_time = factory.LazyAttribute(lambda o: o.start_time + dt.timedelta(hours=2))


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    tenant = factory.SubFactory(CompanyFactory)
    phone = factory.Sequence(lambda n: f"+49151{1000000 + n:07d}")
    name = factory.Sequence(lambda n: f"Kunde {n}")


class AppointmentFactory(factory.django.DjangoModelFactory[Appointment]):
    class Meta:
        model = Appointment

    staff = factory.SubFactory(StaffFactory)
    tenant = factory.SelfAttribute("staff.tenant")
    branch = factory.SelfAttribute("staff.branch")
    service = factory.SubFactory(ServiceFactory, tenant=factory.SelfAttribute("..tenant"))
    customer = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    start_time = factory.LazyFunction(
        lambda: (timezone.now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    )
    end_time = factory.LazyAttribute(
        lambda o: o.start_time + dt.timedelta(minutes=o.service.duration_minutes)
    )
    occupied_start = factory.LazyAttribute(
        lambda o: o.start_time - dt.timedelta(minutes=o.service.buffer_before_minutes)
    )
    occupied_end = factory.LazyAttribute(
        lambda o: o.end_time + dt.timedelta(minutes=o.service.buffer_after_minutes)
    )
    status = AppointmentStatus.CONFIRMED
    source = AppointmentSource.API
    confirmation_number = factory.LazyFunction(new_confirmation_number)
    price = factory.SelfAttribute("service.price")


class PhoneNumberFactory(factory.django.DjangoModelFactory[PhoneNumber]):
    class Meta:
        model = PhoneNumber

    branch = factory.SubFactory(BranchFactory)
    tenant = factory.SelfAttribute("branch.tenant")
    number = factory.Sequence(lambda n: f"+4930{5000000 + n:07d}")
    retell_agent_id = factory.Sequence(lambda n: f"agent_{n}")


class RoutingRuleFactory(factory.django.DjangoModelFactory[RoutingRule]):
    class Meta:
        model = RoutingRule

    tenant = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Regel {n}")


class CallLogFactory(factory.django.DjangoModelFactory[CallLog]):
    class Meta:
        model = CallLog

    branch = factory.SubFactory(BranchFactory)
    tenant = factory.SelfAttribute("branch.tenant")
    call_id = factory.Sequence(lambda n: f"call_{n:08d}")
    from_number = "+4915112345678"
    to_number = "+493012345670"


class AuditLogFactory(factory.django.DjangoModelFactory[AuditLog]):
    class Meta:
        model = AuditLog

    tenant = factory.SubFactory(CompanyFactory)
    actor = "test"
    action = "test.done"
    object_type = "tenants.company"
    object_id = factory.SelfAttribute("tenant.pk")


class UserFactory(factory.django.DjangoModelFactory[Any]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-only")

    @factory.post_generation
    def saved(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()


class OperatorProfileFactory(factory.django.DjangoModelFactory[OperatorProfile]):
    class Meta:
        model = OperatorProfile

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(CompanyFactory)
