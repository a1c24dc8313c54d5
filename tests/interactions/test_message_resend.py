"""A message is resent at most once, and the database says so: the resend points at the message it resends
(`Message.resent_from`) under a unique constraint. Existing resends, known from the audit log, are linked by the
migration that adds it."""

import importlib
import threading

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from audit.actions import AuditAction
from audit.models import AuditLog
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from contactcenter.common.domain import Conflict
from interactions.models import Interaction, Message, MessageStatus
from interactions.services import message_resend

pytestmark = pytest.mark.postgres
PHONE = "+5215512345678"
ACTOR = Actor.system("resend-tests")


def _failed(**fields) -> Message:
    interaction = Interaction.objects.create(
        channel="sms", direction="outbound", provider="twilio", customer_phone=PHONE
    )
    return Message.objects.create(
        interaction=interaction,
        channel="sms",
        direction="outbound",
        status=MessageStatus.FAILED,
        provider="twilio",
        to_phone=PHONE,
        body="Su folio es 42",
        **fields,
    )


@pytest.mark.django_db
def test_the_database_refuses_a_second_resend_of_one_message():
    original = _failed()
    _failed(resent_from=original)
    with pytest.raises(IntegrityError), transaction.atomic():
        _failed(resent_from=original)


@pytest.mark.django_db
def test_a_resend_points_at_the_message_it_resends_and_a_second_is_a_conflict():
    original = _failed()

    resent = message_resend(message_id=original.pk, actor=ACTOR)

    assert resent.resent_from_id == original.pk
    assert list(original.resends.all()) == [resent]
    with pytest.raises(Conflict) as again:
        message_resend(message_id=original.pk, actor=ACTOR)
    assert again.value.code == "already_resent"
    assert Message.objects.filter(resent_from=original).count() == 1
    # A resend that failed in turn can itself be resent, once.
    Message.objects.filter(pk=resent.pk).update(status=MessageStatus.FAILED)
    assert message_resend(message_id=resent.pk, actor=ACTOR).resent_from_id == resent.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_resends_of_one_message_let_exactly_one_through():
    original = _failed()
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    results: list = [None] * threads_count

    def resend(index):
        try:
            barrier.wait(timeout=30)
            results[index] = message_resend(message_id=original.pk, actor=ACTOR)
        except Exception as exc:  # counted below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=resend, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"

    resent = [r for r in results if isinstance(r, Message)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(resent) == 1, results
    assert len(refused) == threads_count - 1 and {r.code for r in refused} == {"already_resent"}, results
    assert Message.objects.filter(resent_from=original).count() == 1
    assert AuditLog.objects.filter(action="message.resent", target_id=str(original.pk)).count() == 1


@pytest.mark.django_db
def test_the_migration_links_the_resends_the_audit_log_knows():
    migration = importlib.import_module("interactions.migrations.0006_message_resent_from")
    first, second, gone = _failed(), _failed(), _failed()
    first_resend, second_resend, stray = _failed(), _failed(), _failed()
    for original, resend in ((first, first_resend), (second, second_resend), (first, stray), (gone, "missing")):
        audit_log_record(
            actor=ACTOR,
            action=AuditAction.MESSAGE_RESENT,
            target_type="message",
            target_id=original.pk,
            data={"resent_as": str(getattr(resend, "pk", "00000000-0000-4000-8000-000000000000"))},
        )
    audit_log_record(actor=ACTOR, action=AuditAction.MESSAGE_RESENT, target_type="message", target_id="not-a-uuid")

    migration.resends_link(apps, None)

    links = dict(Message.objects.filter(resent_from__isnull=False).values_list("pk", "resent_from"))
    # The first record of an original wins (a second one could only come from before the rule held).
    assert links == {first_resend.pk: first.pk, second_resend.pk: second.pk}
