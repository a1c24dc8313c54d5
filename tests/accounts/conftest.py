import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle history lives in the cache (Redis): every test starts without it."""
    cache.clear()
    yield
    cache.clear()
