from django.conf import settings
from django.core.checks import Error, Tags, register

from .policy import policy_problems


@register(Tags.compatibility)
def retention_policy_check(app_configs=None, **kwargs):
    """A policy that cannot be applied stops `manage.py check` (and every management command) with its reasons."""
    return [
        Error(f"RETENTION_POLICY: {problem}", hint="See docs/retention.md.", id="retention.E001")
        for problem in policy_problems(getattr(settings, "RETENTION_POLICY", {}))
    ]
