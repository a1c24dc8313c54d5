"""One folder per provider, both directions: `inbound.py` (its webhook: authenticate, read, identify, apply a delivery)
and `client.py` (send, look up), behind the small interfaces in `base`, listed once in `registry`. Only these modules
know a provider's SDK, URLs and field names; the rest of the code sees our own records (`base`, and the normalized
records the services take). They may import `interactions` (models, services) and `contactcenter.common`, never the
apps above (`webhooks`, `otp`, `voice`, `backoffice`)."""
