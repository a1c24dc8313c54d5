from django.urls import path

from interactions.providers.registry import providers

from .views import provider_webhook_view

app_name = "webhooks"


def provider_webhook_paths() -> list:
    """One route per registered provider: its webhook path (under /webhooks/) and URL name."""
    return [path(p.webhook_path, provider_webhook_view(p), name=p.url_name) for p in providers()]


urlpatterns = provider_webhook_paths()
