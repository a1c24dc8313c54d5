"""POST /api/otp and POST /api/otp/verify: every answer of the contract."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from audit.models import AuditLog
from interactions.models import Message
from otp.models import OtpChallenge, OtpIdempotencyRecord

from .conftest import queued_code, wrong

pytestmark = pytest.mark.django_db

PHONE = "+525512345678"  # canonical (requests may spell it +52 1 55…)
OTHER_PHONE = "+14155550123"


def create(api, phone=PHONE, purpose="login", **extra):
    headers = extra.pop("headers", {})
    return api.post("/api/otp", {"phone": phone, "purpose": purpose, **extra}, format="json", headers=headers)


def verify(api, **body):
    return api.post("/api/otp/verify", body, format="json")


# --- create ------------------------------------------------------------------------------------------------------------


def test_create_answers_201_pending_with_expiry_and_queues_a_sensitive_sms(api, settings):
    response = create(api)

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert set(body) == {"id", "status", "purpose", "expires_at", "attempts_remaining", "delivery_status"}
    assert body["delivery_status"] == "queued"
    assert body["attempts_remaining"] == settings.OTP_MAX_ATTEMPTS
    challenge = OtpChallenge.objects.get(pk=body["id"])
    assert abs((challenge.expires_at - challenge.created_at).total_seconds() - settings.OTP_TTL_SECONDS) < 2
    message = challenge.message
    assert message.channel == "sms" and message.to_phone == PHONE
    assert message.purpose == "otp" and message.is_sensitive and message.status == "queued"
    code = queued_code(challenge.pk)
    assert len(code) == settings.OTP_CODE_LENGTH
    assert code not in response.content.decode()
    assert code not in challenge.code_hash


def test_sms_text_follows_purpose_and_language_and_warns_not_to_share(api):
    english = create(api, language="en").json()
    assert "Do not share" in Message.objects.get(otp_challenges=english["id"]).body
    spanish = create(api, OTHER_PHONE, "transaction", language="es-MX").json()
    body = Message.objects.get(otp_challenges=spanish["id"]).body
    assert "confirmar una operación" in body and "No lo compartas" in body


def test_code_length_follows_the_setting(api, settings):
    settings.OTP_CODE_LENGTH = 8
    challenge_id = create(api).json()["id"]
    assert len(queued_code(challenge_id)) == 8


def test_the_answer_has_the_same_shape_for_any_valid_number(api):
    first = create(api, PHONE).json()
    second = create(api, OTHER_PHONE).json()
    assert set(first) == set(second)
    assert {k: v for k, v in first.items() if k not in ("id", "expires_at")} == {
        k: v for k, v in second.items() if k not in ("id", "expires_at")
    }


@pytest.mark.parametrize("phone", ["12", "not a phone", "+999123456789", "", "+52155"])
def test_bad_phone_is_a_400_in_the_error_shape(api, phone):
    response = create(api, phone=phone)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] in ("client_error", "validation_error")
    assert body["errors"][0]["attr"] == "phone"
    assert not OtpChallenge.objects.exists()


@pytest.mark.parametrize("purpose", ["bogus", "LOGIN", "", "x" * 40])
def test_bad_purpose_is_a_400_in_the_error_shape(api, purpose, settings):
    settings.OTP_PURPOSES = ["login", "transaction"]  # an allow-list: "bogus" is not on it
    response = create(api, purpose=purpose)
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "purpose"
    assert not Message.objects.exists()


def test_unsupported_language_is_a_400(api):
    response = create(api, language="pt")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_language"


def test_numbers_outside_the_allowed_countries_are_refused(api, settings):
    settings.OTP_ALLOWED_COUNTRIES = ["MX"]
    refused = create(api, OTHER_PHONE)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "country_not_allowed"
    assert create(api, PHONE).status_code == 201


def test_callers_must_authenticate():
    client = APIClient()
    assert client.post("/api/otp", {"phone": PHONE, "purpose": "login"}, format="json").status_code == 401
    assert client.post("/api/otp/verify", {"id": PHONE, "code": "123456"}, format="json").status_code == 401
    assert not OtpChallenge.objects.exists()


def test_create_is_audited_with_a_masked_phone(api):
    challenge_id = create(api).json()["id"]
    record = AuditLog.objects.get(action="otp.created", target_id=challenge_id)
    assert record.data["phone"] == "+52******5678"
    assert record.actor_label == "otp-ops"
    assert PHONE not in str(record.data)
    assert queued_code(challenge_id) not in str(record.data)


# --- verify ------------------------------------------------------------------------------------------------------------


def test_right_code_is_approved_once_then_409(api):
    challenge_id = create(api).json()["id"]
    code = queued_code(challenge_id)

    approved = verify(api, id=challenge_id, code=code)
    assert approved.status_code == 200
    assert approved.json() == {"status": "approved", "verified": True}
    assert AuditLog.objects.filter(action="otp.approved", target_id=challenge_id).exists()

    again = verify(api, id=challenge_id, code=code)
    assert again.status_code == 409
    assert again.json() == {"status": "approved", "verified": False}


def test_verify_by_phone_and_purpose_uses_the_latest_challenge(api):
    challenge_id = create(api).json()["id"]
    response = verify(api, phone="+52 1 55 1234 5678", purpose="login", code=queued_code(challenge_id))
    assert response.status_code == 200


def test_wrong_code_is_400_with_attempts_remaining(api, settings):
    challenge_id = create(api).json()["id"]
    response = verify(api, id=challenge_id, code=wrong(queued_code(challenge_id)))
    assert response.status_code == 400
    assert response.json() == {
        "status": "pending",
        "verified": False,
        "attempts_remaining": settings.OTP_MAX_ATTEMPTS - 1,
    }
    failure = AuditLog.objects.get(action="otp.verify_failed", target_id=challenge_id)
    assert (
        failure.data["reason"] == "wrong_code" and failure.data["attempts_remaining"] == settings.OTP_MAX_ATTEMPTS - 1
    )


def test_attempts_used_up_lock_the_challenge_and_the_right_code_then_fails(api, settings):
    challenge_id = create(api).json()["id"]
    code = queued_code(challenge_id)
    for remaining in range(settings.OTP_MAX_ATTEMPTS - 1, 0, -1):
        response = verify(api, id=challenge_id, code=wrong(code))
        assert response.status_code == 400
        assert response.json()["attempts_remaining"] == remaining

    locking = verify(api, id=challenge_id, code=wrong(code))
    assert locking.status_code == 429
    assert locking.json() == {"status": "max_attempts"}

    right = verify(api, id=challenge_id, code=code)
    assert right.status_code == 429
    assert right.json() == {"status": "max_attempts"}
    challenge = OtpChallenge.objects.get(pk=challenge_id)
    assert challenge.status == "max_attempts" and challenge.attempts == settings.OTP_MAX_ATTEMPTS
    assert AuditLog.objects.filter(action="otp.locked", target_id=challenge_id).count() == 1


def test_expired_code_is_410(api, settings):
    with freeze_time(timezone.now()) as clock:
        challenge_id = create(api).json()["id"]
        code = queued_code(challenge_id)
        clock.tick(timedelta(seconds=settings.OTP_TTL_SECONDS + 1))
        response = verify(api, id=challenge_id, code=code)
    assert response.status_code == 410
    assert response.json() == {"status": "expired"}
    assert OtpChallenge.objects.get(pk=challenge_id).status == "expired"
    assert AuditLog.objects.filter(action="otp.expired", target_id=challenge_id).exists()


def test_code_still_works_just_before_expiry(api, settings):
    with freeze_time(timezone.now()) as clock:
        challenge_id = create(api).json()["id"]
        clock.tick(timedelta(seconds=settings.OTP_TTL_SECONDS - 1))
        assert verify(api, id=challenge_id, code=queued_code(challenge_id)).status_code == 200


def test_a_new_challenge_cancels_the_pending_one_which_then_answers_409(api):
    first_id = create(api).json()["id"]
    first_code = queued_code(first_id)
    second_id = create(api).json()["id"]

    replaced = verify(api, id=first_id, code=first_code)
    assert replaced.status_code == 409
    assert replaced.json() == {"status": "canceled", "verified": False}
    assert AuditLog.objects.get(action="otp.canceled", target_id=first_id).data["reason"] == "replaced"
    assert verify(api, id=second_id, code=queued_code(second_id)).status_code == 200
    # Another purpose is another challenge: it does not cancel the login one.
    other_purpose = create(api, purpose="transaction").json()["id"]
    assert OtpChallenge.objects.get(pk=other_purpose).status == "pending"


def test_unknown_challenge_is_404_and_a_malformed_request_400(api):
    missing = verify(api, id="00000000-0000-4000-8000-000000000000", code="123456")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "not_found"
    assert verify(api, phone=PHONE, purpose="login", code="123456").status_code == 404
    assert verify(api, code="123456").status_code == 400
    assert verify(api, id="00000000-0000-4000-8000-000000000000", code="12ab56").status_code == 400
    assert verify(api, phone=PHONE, purpose="Not A Slug", code="123456").status_code == 400


def test_context_bound_at_create_must_match_at_verify(api, settings):
    context = {"amount": "1500.00", "currency": "MXN", "payee": "CLABE 0123"}
    challenge_id = create(api, purpose="transaction", context=context).json()["id"]
    code = queued_code(challenge_id)

    other = verify(api, id=challenge_id, code=code, context={**context, "amount": "9500.00"})
    assert other.status_code == 400
    assert other.json()["attempts_remaining"] == settings.OTP_MAX_ATTEMPTS - 1
    assert verify(api, id=challenge_id, code=code).status_code == 400  # no context at all: not the bound one
    reordered = {"payee": "CLABE 0123", "currency": "MXN", "amount": "1500.00"}
    assert verify(api, id=challenge_id, code=code, context=reordered).status_code == 200


def test_a_context_given_only_at_verify_does_not_match(api):
    challenge_id = create(api).json()["id"]
    response = verify(api, id=challenge_id, code=queued_code(challenge_id), context={"amount": "1"})
    assert response.status_code == 400


def test_detail_shows_status_and_delivery(api):
    challenge_id = create(api).json()["id"]
    detail = api.get(f"/api/otp/{challenge_id}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "pending" and detail.json()["delivery_status"] == "queued"
    assert api.get("/api/otp/00000000-0000-4000-8000-000000000000").status_code == 404


# --- limits ------------------------------------------------------------------------------------------------------------


def test_rate_limit_per_phone_and_purpose_answers_429_with_retry_after(api, settings):
    window = settings.OTP_RATE_LIMIT_WINDOW_SECONDS
    with freeze_time(timezone.now()) as clock:
        for _ in range(settings.OTP_RATE_LIMIT_MAX):
            assert create(api).status_code == 201
            clock.tick(timedelta(seconds=100))
        limited = create(api)
        assert limited.status_code == 429
        assert limited.json()["errors"][0]["code"] == "rate_limited"
        # The oldest counted challenge was made 100 × MAX seconds ago; it leaves the window after the rest of it.
        assert int(limited["Retry-After"]) == window - 100 * settings.OTP_RATE_LIMIT_MAX
        assert create(api, purpose="transaction").status_code == 201  # another purpose has its own count
        clock.tick(timedelta(seconds=int(limited["Retry-After"]) + 1))
        assert create(api).status_code == 201
    assert OtpChallenge.objects.filter(phone=PHONE, purpose="login").count() == settings.OTP_RATE_LIMIT_MAX + 1


def test_minimum_interval_between_two_codes_to_one_phone(api, settings):
    settings.OTP_MIN_INTERVAL_SECONDS = 60
    with freeze_time(timezone.now()) as clock:
        assert create(api).status_code == 201
        clock.tick(timedelta(seconds=20))
        too_soon = create(api, purpose="transaction")
        assert too_soon.status_code == 429
        assert too_soon.json()["errors"][0]["code"] == "too_soon"
        assert too_soon["Retry-After"] == "40"
        clock.tick(timedelta(seconds=40))
        assert create(api, purpose="transaction").status_code == 201


def test_per_client_limit(api, other_api, settings):
    settings.OTP_CLIENT_RATE_LIMIT_MAX = 2
    assert create(api, "+5215512340001").status_code == 201
    assert create(api, "+5215512340002").status_code == 201
    limited = create(api, "+5215512340003")
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["code"] == "client_rate_limited"
    assert int(limited["Retry-After"]) > 0
    assert create(other_api, "+5215512340003").status_code == 201


# --- idempotency -------------------------------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_first_answer_without_a_second_sms(api):
    first = create(api, headers={"Idempotency-Key": "order-42"})
    second = create(api, headers={"Idempotency-Key": "order-42"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert OtpChallenge.objects.count() == 1
    assert Message.objects.count() == 1
    assert OtpIdempotencyRecord.objects.get().challenge_id is not None


def test_same_idempotency_key_with_another_body_is_422(api):
    assert create(api, headers={"Idempotency-Key": "k-1"}).status_code == 201
    conflict = create(api, purpose="transaction", headers={"Idempotency-Key": "k-1"})
    assert conflict.status_code == 422
    assert conflict.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert OtpChallenge.objects.count() == 1


def test_idempotency_keys_belong_to_one_client(api, other_api):
    first = create(api, headers={"Idempotency-Key": "shared"})
    second = create(other_api, OTHER_PHONE, headers={"Idempotency-Key": "shared"})
    assert second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_an_idempotent_retry_is_not_stopped_by_the_rate_limit(api, settings):
    settings.OTP_RATE_LIMIT_MAX = 1
    first = create(api, headers={"Idempotency-Key": "retry-me"})
    assert create(api, headers={"Idempotency-Key": "retry-me"}).json() == first.json()
    assert create(api).status_code == 429


def test_an_api_key_client_is_the_audited_actor_and_its_own_rate_limit_identity(settings):
    from accounts.models import ApiKey

    settings.OTP_CLIENT_RATE_LIMIT_MAX = 1
    key_row, key = ApiKey.objects.create_key(name="ivr", role="integration")
    client = APIClient(headers={"Authorization": f"Api-Key {key}"})

    challenge_id = create(client).json()["id"]
    record = AuditLog.objects.get(action="otp.created", target_id=challenge_id)
    assert (record.actor_type, record.actor_id, record.actor_label) == ("api_client", key_row.prefix, "ivr")
    assert OtpChallenge.objects.get(pk=challenge_id).client_id == f"api_key:{key_row.prefix}"
    assert create(client, OTHER_PHONE).json()["errors"][0]["code"] == "client_rate_limited"
    assert verify(client, id=challenge_id, code=queued_code(challenge_id)).status_code == 200


def test_an_idempotency_key_is_forgotten_after_its_time(api, settings):
    with freeze_time(timezone.now()) as clock:
        first = create(api, headers={"Idempotency-Key": "old"}).json()
        clock.tick(timedelta(seconds=settings.OTP_IDEMPOTENCY_TTL_SECONDS + 1))
        again = create(api, headers={"Idempotency-Key": "old"})
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert OtpIdempotencyRecord.objects.get().challenge_id == OtpChallenge.objects.get(pk=again.json()["id"]).pk
