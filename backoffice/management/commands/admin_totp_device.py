"""Provision the TOTP device a staff user logs into the admin with (the second factor)."""

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Create (or with --replace, rotate) the TOTP device of a staff user and print its otpauth:// URI and a QR "
        "code once, to scan with an authenticator app. The secret is not shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator", help="Name of the device (default: authenticator).")
        parser.add_argument(
            "--replace", action="store_true", help="Delete the user's TOTP devices and create a new one."
        )
        parser.add_argument("--no-qr", action="store_true", help="Print only the URI, no QR code.")

    def handle(self, *args, username, name, replace, no_qr, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if not user.is_staff:
            raise CommandError(f"{username!r} is not staff: the admin would not let them in anyway.")
        with transaction.atomic():
            existing = TOTPDevice.objects.filter(user=user)
            if existing.exists() and not replace:
                raise CommandError(f"{username!r} already has a TOTP device; pass --replace to rotate it.")
            existing.delete()
            device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        uri = device.config_url
        self.stdout.write(f"otpauth URI (shown once): {uri}")
        if not no_qr:
            qr = qrcode.QRCode(border=1)
            qr.add_data(uri)
            qr.make(fit=True)
            qr.print_ascii(out=self.stdout, invert=True)
        self.stdout.write(self.style.SUCCESS(f"TOTP device {name!r} ready for {username!r}."))
