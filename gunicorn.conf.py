"""Gunicorn's own settings (gunicorn reads ./gunicorn.conf.py by itself; the Procfile and docker-compose give the
rest on the command line).

Gunicorn's own log lines (a worker booting, a request that failed outside Django, with its URI) go through the same
JSON formatter and scrub filter as Django's (contactcenter/common/logging.py): no phone number or token in them. Its
access log stays off."""

from contactcenter.common.logging import logging_config

logconfig_dict = logging_config(
    level="INFO",
    loggers={
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Off: the application writes one line per request itself (contactcenter.common.middleware), with the query
        # decoded, its secrets redacted and its numbers masked; gunicorn's would carry the raw request line.
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
)
