"""The role groups and the permissions each holds. Created by migration 0002 and kept in step after every migrate
(and after the test database is flushed) by a post_migrate handler; both only add, never remove."""

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
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
        "audit.view_auditverification",
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
        "audit.view_auditverification",
        "accounts.view_apikey",
    ),
    "integration": (
        "interactions.view_interaction",
        "interactions.view_message",
        "interactions.view_calldetail",
        "otp.add_otpchallenge",
    ),
}


def role_groups_sync(*, group_model, permission_model, using: str = "default") -> None:
    """Create the role groups that are missing and give each the permissions it lacks (those that exist yet)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = group_model.objects.using(using).get_or_create(name=role)
        wanted = [perm.split(".", 1) for perm in perms]
        found = (
            permission_model.objects.using(using)
            .select_related("content_type")
            .filter(
                content_type__app_label__in={app for app, _codename in wanted},
                codename__in={codename for _app, codename in wanted},
            )
        )
        ids = [p.pk for p in found if [p.content_type.app_label, p.codename] in wanted]
        group.permissions.add(*ids)


def role_groups_post_migrate(sender, using="default", **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    role_groups_sync(group_model=Group, permission_model=Permission, using=using)
