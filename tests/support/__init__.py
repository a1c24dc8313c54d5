"""Shared pytest helpers: a real Celery worker against the test database, the broker switch for the test process,
and the fake providers on loopback. See tests/support/README.md."""
