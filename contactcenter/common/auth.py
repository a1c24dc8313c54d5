"""Authentication backend: Django's ModelBackend, with a staff user's permissions and group names read in one query.

The admin asks for permissions on every page; ModelBackend reads user and group permissions in two queries, and the
back office also needs the user's group names (roles). Here all three come from one UNION query, cached on the user
object for the request, which keeps an admin page within its query budget.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection

_PERMS_AND_GROUPS_SQL = """
SELECT ct.app_label, p.codename, NULL
  FROM {user_perms} up
  JOIN {perm} p ON p.id = up.permission_id
  JOIN {ct} ct ON ct.id = p.content_type_id
 WHERE up.user_id = %s
UNION
SELECT ct.app_label, p.codename, g.name
  FROM {user_groups} ug
  JOIN {group} g ON g.id = ug.group_id
  LEFT JOIN {group_perms} gp ON gp.group_id = g.id
  LEFT JOIN {perm} p ON p.id = gp.permission_id
  LEFT JOIN {ct} ct ON ct.id = p.content_type_id
 WHERE ug.user_id = %s
"""


def _load(user: Any) -> None:
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    user_model = get_user_model()
    sql = _PERMS_AND_GROUPS_SQL.format(
        user_perms=user_model.user_permissions.through._meta.db_table,
        user_groups=user_model.groups.through._meta.db_table,
        group_perms=Group.permissions.through._meta.db_table,
        group=Group._meta.db_table,
        perm=Permission._meta.db_table,
        ct=ContentType._meta.db_table,
    )
    perms: set[str] = set()
    groups: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk])
        for app_label, codename, group_name in cursor.fetchall():
            if codename:
                perms.add(f"{app_label}.{codename}")
            if group_name:
                groups.add(group_name)
    user._perm_cache = perms
    user._backoffice_groups = frozenset(groups)


def user_group_names(user: Any) -> frozenset[str]:
    """Names of the groups a user belongs to (read together with the permissions, once per request)."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if not hasattr(user, "_backoffice_groups"):
        _load(user)
    return user._backoffice_groups


class BackofficeModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            _load(user_obj)
        return user_obj._perm_cache
