from django.contrib import admin

from staff.models import Service, Staff, StaffService, TimeBlock, WorkingHours
from tenants.admin_scoping import TenantScopedAdmin, TenantScopedInline


@admin.register(Service)
class ServiceAdmin(TenantScopedAdmin):
    list_display = (
        "name",
        "duration_minutes",
        "price",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "is_active",
    )
    list_filter = ("is_active", "branches")
    search_fields = ("name", "description")
    filter_horizontal = ("branches",)
    readonly_fields = ("created_at", "updated_at")


class StaffServiceInline(TenantScopedInline, admin.TabularInline):
    model = StaffService
    fields = ("service", "skill_level")


class WorkingHoursInline(TenantScopedInline, admin.TabularInline):
    model = WorkingHours
    fields = ("weekday", "start_time", "end_time", "breaks")


class TimeBlockInline(TenantScopedInline, admin.TabularInline):
    model = TimeBlock
    fields = ("kind", "start_time", "end_time", "reason")


@admin.register(Staff)
class StaffAdmin(TenantScopedAdmin):
    list_display = ("name", "branch", "email", "phone", "rating", "is_active")
    list_filter = ("is_active", "branch")
    search_fields = ("name", "email", "phone")
    readonly_fields = ("created_at", "updated_at")
    list_select_related = ("branch", "tenant")
    inlines = (StaffServiceInline, WorkingHoursInline, TimeBlockInline)


@admin.register(TimeBlock)
class TimeBlockAdmin(TenantScopedAdmin):
    list_display = ("staff", "kind", "start_time", "end_time", "reason")
    list_filter = ("kind", "staff__branch", ("start_time", admin.DateFieldListFilter))
    search_fields = ("staff__name", "reason")
    date_hierarchy = "start_time"
    list_select_related = ("staff__branch", "tenant")
    raw_id_fields = ("staff",)
    readonly_fields = ("created_at",)
