"""Signal receivers: a credential change ends the account's tokens; a lockout is audited."""

from django.db.models.signals import post_delete, post_save, pre_delete, pre_save


def _credential_change(user) -> str:
    """What changed in a saved user that must end its tokens ("" for nothing): a new password, or a deactivation."""
    if user.pk is None:
        return ""
    before = type(user).objects.filter(pk=user.pk).values_list("password", "is_active").first()
    if before is None:
        return ""
    password, was_active = before
    if password != user.password:
        return "password_changed"
    if was_active and not user.is_active:
        return "deactivated"
    return ""


def user_pre_save(sender, instance, raw=False, **kwargs) -> None:
    if not raw:
        instance._tokens_revoke_reason = _credential_change(instance)


def user_post_save(sender, instance, created=False, raw=False, **kwargs) -> None:
    reason = instance.__dict__.pop("_tokens_revoke_reason", "")
    if reason and not created and not raw:
        from .services import account_tokens_revoke, api_keys_of_issuer_revoke

        account_tokens_revoke(user_id=instance.pk, reason=reason)
        if reason == "deactivated":
            api_keys_of_issuer_revoke(user_id=instance.pk, reason=reason)


def user_pre_delete(sender, instance, **kwargs) -> None:
    from .services import api_keys_of_issuer_revoke

    api_keys_of_issuer_revoke(user_id=instance.pk, reason="removed")


def device_post_delete(sender, instance, origin=None, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    from .services import account_tokens_revoke

    # A device deleted together with its user (CASCADE from the user) has no tokens left to end.
    if isinstance(origin, get_user_model()) or not instance.user_id:
        return
    account_tokens_revoke(user_id=instance.user_id, reason="second_factor_removed")


def user_signed_in(sender, request=None, user=None, **kwargs) -> None:
    """The admin's sign-in (django.contrib.auth's `user_logged_in`), audited like the API's."""
    from audit.actions import AuditAction
    from audit.services import audit_log_record
    from contactcenter.common.actors import Actor

    if user is not None:
        audit_log_record(
            actor=Actor.user(user),
            action=AuditAction.AUTH_SIGNED_IN,
            target_type="user",
            target_id=user.pk,
            data={"method": "admin", "second_factor": bool(getattr(user, "otp_device", None))},
        )


def connect() -> None:
    from axes.signals import user_locked_out
    from django.contrib.auth import get_user_model
    from django.contrib.auth.signals import user_logged_in
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .lockout import lockout_audit

    user_model = get_user_model()
    pre_save.connect(user_pre_save, sender=user_model, dispatch_uid="accounts.user_pre_save")
    post_save.connect(user_post_save, sender=user_model, dispatch_uid="accounts.user_post_save")
    pre_delete.connect(user_pre_delete, sender=user_model, dispatch_uid="accounts.user_pre_delete")
    post_delete.connect(device_post_delete, sender=TOTPDevice, dispatch_uid="accounts.totp_device_deleted")
    user_locked_out.connect(lockout_audit, dispatch_uid="accounts.lockout_audit")
    user_logged_in.connect(user_signed_in, dispatch_uid="accounts.user_signed_in")
