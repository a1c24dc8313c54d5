from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulatorsConfig(AppConfig):
    """Fake providers and webhook simulations (`manage.py simulate_webhook`). Only its management command and the
    tests load its modules: no production module imports it (an import-linter contract says so)."""

    name = "simulators"
    verbose_name = _("Simulators")
