"""Supervisors may erase a customer's data and see the retention runs; auditors may see the runs. Idempotent."""

from django.db import migrations

ROLE_PERMISSIONS = {
    "supervisor": ("erase_customer", "view_retentionrun"),
    "auditor": ("view_retentionrun",),
}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create this app's now.
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    create_permissions(global_apps.get_app_config("retention"), verbosity=0, using=schema_editor.connection.alias)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="retention", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
