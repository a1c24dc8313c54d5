"""Every stored phone number in its one canonical form (contactcenter.common.pii.phone_normalize): Mexico's legacy
`+521…` mobiles become `+52…`, Brazilian mobiles stored without their ninth digit get it, digits of other scripts
become ASCII; keyed hashes are recomputed. A WhatsApp conversation keeps the address the provider knew the customer
by (`customer_address`), which replies are sent to.

Only rows whose number is not canonical are read (a regular expression finds them), in batches of 1000, each in its
own transaction, so the migration runs on a large table without holding it. Redacted numbers (masked, `*`) cannot be
recomputed: their hash keeps the spelling they had, and lookups try every spelling (pii.phone_lookup_hashes)."""

from django.db import migrations, transaction

# Numbers that may not be canonical: Mexico's legacy mobile form, an 8-digit Brazilian mobile, any character that is
# not an ASCII digit, `+` or the mask's `*`.
NOT_CANONICAL = r"^\+521[0-9]{10}$|^\+55[0-9]{2}[6-9][0-9]{7}$|[^+0-9*]"
BATCH = 1000


def _canonical(value):
    from contactcenter.common.pii import InvalidPhoneNumber, phone_normalize

    if not value or "*" in value:
        return None
    try:
        canonical = phone_normalize(value)
    except InvalidPhoneNumber:
        return None
    return canonical if canonical != value else None


def _walk(model, field, fix):
    last = None
    while True:
        with transaction.atomic():
            rows = model.objects.filter(**{f"{field}__regex": NOT_CANONICAL})
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows.order_by("pk")[:BATCH])
            for row in batch:
                fix(row)
        if len(batch) < BATCH:
            return
        last = batch[-1].pk


def forwards(apps, schema_editor):
    from contactcenter.common.pii import phone_address_for, phone_hash

    Interaction = apps.get_model("interactions", "Interaction")
    Message = apps.get_model("interactions", "Message")
    CallDetail = apps.get_model("interactions", "CallDetail")

    def interaction(row):
        canonical = _canonical(row.customer_phone)
        if canonical is None:
            return
        changes = {"customer_phone": canonical, "customer_phone_hash": phone_hash(canonical)}
        if row.channel == "whatsapp" and not row.customer_address:
            changes["customer_address"] = phone_address_for(row.customer_phone, canonical)
        Interaction.objects.filter(pk=row.pk).update(**changes)

    _walk(Interaction, "customer_phone", interaction)

    for field in ("to_phone", "from_phone"):

        def message(row, field=field):
            canonical = _canonical(getattr(row, field))
            if canonical is not None:
                Message.objects.filter(pk=row.pk).update(**{field: canonical})

        _walk(Message, field, message)

    for field in ("customer_number", "agent_number"):

        def call(row, field=field):
            canonical = _canonical(getattr(row, field))
            if canonical is not None:
                CallDetail.objects.filter(pk=row.pk).update(**{field: canonical})

        _walk(CallDetail, field, call)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("interactions", "0004_customer_address")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
