"""OTP challenges' numbers in their canonical form (see interactions' 0005_canonical_phones), hashes recomputed, so
that the per-number limits count one line once however it was spelled. A pending challenge stored under a legacy
spelling while the canonical spelling has a pending challenge of the same purpose too is canceled (at most one
pending challenge per number and purpose)."""

from django.db import migrations, transaction
from django.utils import timezone

NOT_CANONICAL = r"^\+521[0-9]{10}$|^\+55[0-9]{2}[6-9][0-9]{7}$|[^+0-9*]"
BATCH = 1000


def forwards(apps, schema_editor):
    from contactcenter.common.pii import InvalidPhoneNumber, phone_hash, phone_normalize

    OtpChallenge = apps.get_model("otp", "OtpChallenge")
    last = None
    while True:
        with transaction.atomic():
            rows = OtpChallenge.objects.filter(phone__regex=NOT_CANONICAL)
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows.order_by("pk")[:BATCH])
            for row in batch:
                if "*" in row.phone:
                    continue
                try:
                    canonical = phone_normalize(row.phone)
                except InvalidPhoneNumber:
                    continue
                if canonical == row.phone:
                    continue
                changes = {"phone": canonical, "phone_hash": phone_hash(canonical)}
                if (
                    row.status == "pending"
                    and OtpChallenge.objects.filter(phone=canonical, purpose=row.purpose, status="pending").exists()
                ):
                    now = timezone.now()
                    changes.update(status="canceled", closed_at=now, updated_at=now)
                OtpChallenge.objects.filter(pk=row.pk).update(**changes)
        if len(batch) < BATCH:
            return
        last = batch[-1].pk


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("otp", "0004_retention_walk_indexes"), ("interactions", "0005_canonical_phones")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
