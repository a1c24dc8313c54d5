"""Every admin page of the product, on the back office's floor (the top layer): one module per app it shows, and the
pages of the libraries' models that the back office overrides. Django's admin autodiscovery imports this package
(`backoffice` comes after those libraries in INSTALLED_APPS, so their own admins are registered first)."""

from . import accounts, audit, interactions, libraries, otp, retention, webhooks

__all__ = ["accounts", "audit", "interactions", "libraries", "otp", "retention", "webhooks"]
