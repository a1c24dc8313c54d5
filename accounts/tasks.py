from celery import shared_task


@shared_task(name="accounts.tokens_flush")
def tokens_flush_task() -> int:
    """Forget refresh tokens past their expiry (daily): the outstanding and blacklist tables stay small."""
    from .services import expired_tokens_flush

    return expired_tokens_flush()
