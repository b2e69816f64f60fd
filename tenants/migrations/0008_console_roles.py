"""The console's roles as Django groups (docs/operations.md, "Roles"): a user gets one by
being added to it in the admin, next to their operator binding (the tenant they see).

- "Empfang" (front desk): books, moves, confirms and cancels appointments, looks up customers,
  calls and SMS; reads staff, services and branches but changes none of them.
- "Filialleitung" (branch manager): all of that, and edits staff, their services, working
  hours and absences, the branch (opening hours, settings), phone numbers and routing rules,
  SMS templates, and may export and erase customer data (GDPR).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FRONT_DESK = "Empfang"
BRANCH_MANAGER = "Filialleitung"

VIEW = ["view"]
WORK = ["view", "change"]
EDIT = ["view", "add", "change", "delete"]

FRONT_DESK_PERMISSIONS = {
    ("bookings", "appointment"): WORK,
    ("bookings", "customer"): ["view", "add", "change"],
    ("integrations", "smsmessage"): VIEW,
    ("integrations", "smstemplate"): VIEW,
    ("routing", "calllog"): VIEW,
    ("staff", "staff"): VIEW,
    ("staff", "service"): VIEW,
    ("staff", "timeblock"): VIEW,
    ("tenants", "branch"): VIEW,
}
BRANCH_MANAGER_PERMISSIONS = {
    **FRONT_DESK_PERMISSIONS,
    ("bookings", "customer"): EDIT,
    ("integrations", "smstemplate"): EDIT,
    ("routing", "phonenumber"): WORK,
    ("routing", "routingrule"): EDIT,
    ("staff", "staff"): EDIT,
    ("staff", "service"): EDIT,
    ("staff", "staffservice"): EDIT,
    ("staff", "workinghours"): EDIT,
    ("staff", "timeblock"): EDIT,
    ("tenants", "branch"): WORK,
}


def _permissions(apps, table):
    Permission = apps.get_model("auth", "Permission")
    codenames = [f"{verb}_{model}" for (_app, model), verbs in table.items() for verb in verbs]
    found = list(
        Permission.objects.filter(
            content_type__app_label__in={app for app, _model in table}, codename__in=codenames
        )
    )
    wanted = {(app, f"{verb}_{model}") for (app, model), verbs in table.items() for verb in verbs}
    return [p for p in found if (p.content_type.app_label, p.codename) in wanted]


def create_roles(apps, schema_editor):
    # Permissions are made after the last migration; a fresh database needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for name, table in (
        (FRONT_DESK, FRONT_DESK_PERMISSIONS),
        (BRANCH_MANAGER, BRANCH_MANAGER_PERMISSIONS),
    ):
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(apps, table))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[FRONT_DESK, BRANCH_MANAGER]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tenants", "0007_translatable_names"),
        ("staff", "0003_translatable_names"),
        ("bookings", "0007_translatable_names"),
        ("routing", "0004_translatable_names"),
        ("integrations", "0008_translatable_names"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
