"""Scoped throttles on the shared cache (Redis in production).

Views name their scope (`throttle_scope = "otp"` strict, `"reads"` generous, `"auth"` for token requests); the
rates are in `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`. When the cache cannot be reached the request is let through
and a warning logged: a Redis outage must not take the read API down with it.
"""

import logging

from rest_framework.throttling import ScopedRateThrottle

from contactcenter.common.context import request_client_ip

logger = logging.getLogger(__name__)


class ResilientScopedRateThrottle(ScopedRateThrottle):
    def get_ident(self, request):
        # DRF's own believes any X-Forwarded-For (NUM_PROXIES unset): a client could pick a fresh bucket per request.
        return request_client_ip(request) or "unknown"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache backend's connection errors differ by backend
            logger.warning("throttle cache unavailable, request let through", extra={"error": type(exc).__name__})
            return True
