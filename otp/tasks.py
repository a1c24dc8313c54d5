from celery import shared_task


@shared_task(name="otp.challenges_expire")
def otp_challenges_expire_task() -> int:
    """Periodic (beat): pending challenges past their expiry become `expired`. Takes no arguments; safe to repeat."""
    from .services import otp_challenges_expire

    return otp_challenges_expire()
