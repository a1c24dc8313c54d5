"""Benchmarks: measure the product as it runs in production (gunicorn, Celery worker, PostgreSQL, Redis) over real
HTTP. They report; they never fail a build on a time. Entry point: `python -m bench.run` (see docs/testing.md)."""
