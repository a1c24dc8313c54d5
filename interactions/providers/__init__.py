"""One module (or package) per provider. Only these modules know a provider's SDK, URLs and field names; the rest of
the code sees the records in `base`."""
