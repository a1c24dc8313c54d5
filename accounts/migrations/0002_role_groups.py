"""The four role groups and their permissions. Idempotent: run again, it adds what is missing and removes nothing."""

from django.db import migrations

ROLE_PERMISSIONS = {
    "supervisor": (
        "interactions.view_interaction",
        "interactions.change_interaction",
        "interactions.view_pii",
        "interactions.view_message",
        "interactions.add_message",
        "interactions.view_calldetail",
        "otp.view_otpchallenge",
        "otp.add_otpchallenge",
        "otp.change_otpchallenge",
        "webhooks.view_interactionevent",
        "webhooks.change_interactionevent",
        "audit.view_auditlog",
        "accounts.view_apikey",
        "accounts.add_apikey",
        "accounts.change_apikey",
    ),
    "agent": (
        "interactions.view_interaction",
        "interactions.change_interaction",
        "interactions.view_message",
        "interactions.add_message",
        "interactions.view_calldetail",
        "otp.add_otpchallenge",
    ),
    "auditor": (
        "interactions.view_interaction",
        "interactions.view_message",
        "interactions.view_calldetail",
        "otp.view_otpchallenge",
        "webhooks.view_interactionevent",
        "audit.view_auditlog",
        "accounts.view_apikey",
    ),
    "integration": (
        "interactions.view_interaction",
        "interactions.view_message",
        "interactions.view_calldetail",
        "otp.add_otpchallenge",
    ),
}


def create_role_groups(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create them now so the groups get them.
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=schema_editor.connection.alias)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_api_keys"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("interactions", "0002_view_pii_permission"),
        ("otp", "0001_initial"),
        ("webhooks", "0001_initial"),
        ("audit", "0002_append_only_trigger"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
