from tests.api.helpers import fresh_throttles  # noqa: F401  (autouse fixture)
