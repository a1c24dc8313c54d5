"""System checks of the OTP settings (run by `manage.py check`, `migrate`, `runserver`)."""

from django.conf import settings
from django.core.checks import Error, register

from .codes import CODE_LENGTH_MAX, CODE_LENGTH_MIN


@register()
def otp_settings_check(app_configs, **kwargs):
    errors = []
    if not CODE_LENGTH_MIN <= settings.OTP_CODE_LENGTH <= CODE_LENGTH_MAX:
        errors.append(
            Error(
                f"OTP_CODE_LENGTH is {settings.OTP_CODE_LENGTH}; it must be between {CODE_LENGTH_MIN} and "
                f"{CODE_LENGTH_MAX} (NIST SP 800-63B asks for at least 6 digits).",
                id="otp.E001",
            )
        )
    for name in ("OTP_TTL_SECONDS", "OTP_MAX_ATTEMPTS", "OTP_RATE_LIMIT_WINDOW_SECONDS", "OTP_RATE_LIMIT_MAX"):
        if getattr(settings, name) < 1:
            errors.append(Error(f"{name} must be at least 1.", id="otp.E002"))
    if "default" not in settings.OTP_SMS_TEMPLATES or "en" not in settings.OTP_SMS_TEMPLATES["default"]:
        errors.append(Error("OTP_SMS_TEMPLATES needs a 'default' entry with an 'en' text.", id="otp.E003"))
    for purpose, texts in settings.OTP_SMS_TEMPLATES.items():
        for language, text in texts.items():
            if "{code}" not in text:
                errors.append(Error(f"OTP_SMS_TEMPLATES[{purpose!r}][{language!r}] has no {{code}}.", id="otp.E004"))
    return errors


@register()
def otp_purposes_check(app_configs, **kwargs):
    from .services import PURPOSE_RE

    purpose = settings.VOICE_OTP_PURPOSE
    allowed = settings.OTP_PURPOSES
    if (allowed and purpose not in allowed) or (not allowed and not PURPOSE_RE.match(purpose or "")):
        return [
            Error(
                f"VOICE_OTP_PURPOSE {purpose!r} is not a purpose the OTP service takes (OTP_PURPOSES, or a slug of "
                "lowercase letters, digits, `_`, `-`, `.` when it is unset).",
                id="otp.E005",
            )
        ]
    return []
