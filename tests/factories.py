"""Test data, built one way: factory_boy factories for the main models.

Phones are given as a provider or a person writes them; what makes them canonical and hashes them stays where the
product does it: `Interaction.save()` for an interaction's customer, the OTP service for a challenge (mirrored by
`OtpChallengeFactory` with the same pii functions). Rows whose `created_at` is set on insert take `created_at=…`
and are backdated right after it. Audit records are never built here: they are written by `audit_log_record`, in
the services the tests drive.

    InteractionFactory()                               an outbound SMS exchange with +52 1 55 1234 5678
    InteractionFactory(channel="whatsapp", assigned_agent=agent, created_at=yesterday)
    OngoingInteractionFactory()                        an inbound call in progress with its CallDetail (back office)
    MessageFactory(interaction=interaction, status="failed")
    OtpSmsFactory(interaction=interaction)              a one-time code's SMS and its challenge
    UserFactory(roles=["agent"])                       password PASSWORD; staff=True, superuser=True, totp=True
"""

import uuid
from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory

from contactcenter.common.pii import phone_hash, phone_normalize
from interactions.models import CallDetail, Channel, Direction, Interaction, Message, MessageStatus
from otp import codes
from otp.models import OtpChallenge, OtpStatus
from webhooks.models import EventStatus, InteractionEvent

PASSWORD = "pw-Secret-123"
PROVIDER_OF_CHANNEL = {Channel.CALL: "elevenlabs", Channel.WHATSAPP: "builderbot", Channel.SMS: "twilio"}


def _backdate(obj, create, extracted, **kwargs):
    """`created_at=…`: `auto_now_add` ignores a value given to the insert, so the row is updated right after it."""
    if extracted is None:
        return
    if create:
        type(obj)._default_manager.filter(pk=obj.pk).update(created_at=extracted)
    obj.created_at = extracted


class UserFactory(DjangoModelFactory):
    """A person: a console user by default. `roles=["supervisor"]` adds them to those role groups (made by the
    accounts migration); `staff=True` lets them into the back office, `superuser=True` anywhere; `totp=True` gives
    them a confirmed authenticator (the back office and the console's sign-in ask for its code)."""

    class Meta:
        model = "auth.User"
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    password = factory.django.Password(PASSWORD)

    class Params:
        staff = factory.Trait(is_staff=True)
        superuser = factory.Trait(is_staff=True, is_superuser=True)

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        for role in extracted or ():
            obj.groups.add(Group.objects.get(name=role))

    @factory.post_generation
    def totp(obj, create, extracted, **kwargs):
        if create and extracted:
            from django_otp.plugins.otp_totp.models import TOTPDevice

            TOTPDevice.objects.create(user=obj, name="phone", confirmed=True)


class InteractionFactory(DjangoModelFactory):
    """An interaction as the webhooks record one; by default an outbound SMS exchange. The phone is WhatsApp's
    spelling of a Mexican mobile: `save()` stores it as +525512345678, with its hash."""

    class Meta:
        model = Interaction
        skip_postgeneration_save = True

    channel = Channel.SMS
    direction = Direction.OUTBOUND
    provider = factory.LazyAttribute(lambda o: PROVIDER_OF_CHANNEL[o.channel])
    customer_phone = "+5215512345678"
    created_at = factory.PostGeneration(_backdate)


class CallDetailFactory(DjangoModelFactory):
    """What a voice call left behind: a conversation id, 125 seconds, a two-turn transcript."""

    class Meta:
        model = CallDetail

    interaction = factory.SubFactory(InteractionFactory, channel=Channel.CALL, direction=Direction.INBOUND)
    conversation_id = factory.LazyFunction(lambda: f"conv_{uuid.uuid4().hex[:20]}")
    duration_seconds = 125
    customer_number = factory.SelfAttribute("interaction.customer_phone")
    transcript = factory.LazyFunction(
        lambda: [
            {"role": "agent", "message": "Hello, how can I help?", "time_in_call_secs": 0},
            {"role": "user", "message": "My card was declined.", "time_in_call_secs": 4},
        ]
    )


class OngoingInteractionFactory(InteractionFactory):
    """A contact the back office is working: inbound, open, started five minutes ago and active now; by default a
    call (with its CallDetail, the number the customer called from as its customer number)."""

    channel = Channel.CALL
    direction = Direction.INBOUND
    customer_phone = "+5215512344321"
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    last_activity_at = factory.LazyFunction(timezone.now)
    call_detail = factory.Maybe(
        factory.LazyAttribute(lambda o: o.channel == Channel.CALL),
        factory.RelatedFactory(
            CallDetailFactory,
            factory_related_name="interaction",
            customer_number=factory.SelfAttribute("..customer_phone"),
        ),
    )


class MessageFactory(DjangoModelFactory):
    """An outbound SMS of an interaction, sent to its customer's number."""

    class Meta:
        model = Message
        skip_postgeneration_save = True

    interaction = factory.SubFactory(InteractionFactory)
    channel = Channel.SMS
    direction = Direction.OUTBOUND
    status = MessageStatus.SENT
    provider = factory.LazyAttribute(lambda o: PROVIDER_OF_CHANNEL[o.channel])
    to_phone = factory.LazyAttribute(lambda o: o.interaction.customer_phone)
    created_at = factory.PostGeneration(_backdate)


class OtpChallengeFactory(DjangoModelFactory):
    """A challenge as `otp_request` stores it: the number canonical and hashed, the code (`code`, default 493817)
    only as its HMAC. Pending, five minutes to go, by default."""

    class Meta:
        model = OtpChallenge
        skip_postgeneration_save = True

    class Params:
        number = "+5215512345678"
        code = "493817"

    id = factory.LazyFunction(uuid.uuid4)
    phone = factory.LazyAttribute(lambda o: phone_normalize(o.number))
    phone_hash = factory.LazyAttribute(lambda o: phone_hash(o.phone))
    purpose = "login"
    code_hash = factory.LazyAttribute(lambda o: codes.code_hash(challenge_id=o.id, code=o.code))
    status = OtpStatus.PENDING
    max_attempts = 5
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=5))
    created_at = factory.PostGeneration(_backdate)


_MESSAGE_FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


class OtpSmsFactory(MessageFactory):
    """The SMS of a one-time code (`code`) and the challenge it carried: approved once the SMS got through, failed
    with it."""

    class Params:
        code = "493817"

    status = MessageStatus.DELIVERED
    body = factory.LazyAttribute(lambda o: f"Your code is {o.code}")
    is_sensitive = True
    provider_message_id = factory.Sequence(lambda n: f"SM{n:032d}")
    challenge = factory.RelatedFactory(
        OtpChallengeFactory,
        factory_related_name="message",
        interaction=factory.SelfAttribute("..interaction"),
        number=factory.SelfAttribute("..to_phone"),
        code=factory.SelfAttribute("..code"),
        status=factory.LazyAttribute(
            lambda o: OtpStatus.FAILED if o.factory_parent.status in _MESSAGE_FAILED else OtpStatus.APPROVED
        ),
    )


class InteractionEventFactory(DjangoModelFactory):
    """A webhook delivery in the ledger, received and not applied yet."""

    class Meta:
        model = InteractionEvent

    provider = "twilio"
    idempotency_key = factory.Sequence(lambda n: f"key-{n}")
    status = EventStatus.RECEIVED
