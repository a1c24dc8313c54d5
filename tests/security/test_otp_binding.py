"""Items 6 and 7 of the security review: an OTP challenge belongs to the client that created it, and the earlier
backend's clients (any purpose slug) keep working.

Attacks over real HTTP against the production-configured server: another API client (or console user) can neither
read, verify nor cancel someone else's challenge (404, and no attempt is spent, so it cannot lock the customer out);
`id` and `phone` given together must match; verify-by-phone answers the same whether or not the number ever had a
challenge; a malformed code is a 400 that spends no attempt; verifications are limited per client."""

import re

import pytest
import requests
from django.conf import settings

from otp.models import OtpChallenge

from .conftest import make_api_key

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

PHONE = "+525512345678"
NEVER_USED = "+525598765432"


@pytest.fixture
def otp_server(prod_server, fake_twilio):
    return prod_server(
        {
            "SMS_BACKEND": "auto",
            "TWILIO_API_BASE_URL": fake_twilio.url,
            "THROTTLE_RATE_OTP": "1000/min",
            "THROTTLE_RATE_READS": "1000/min",
        }
    )


class Client:
    def __init__(self, server, role: str = "integration", name: str | None = None):
        self.server = server
        self.headers = {"Authorization": f"Api-Key {make_api_key(role, name)}"}

    def post(self, path: str, body: dict) -> requests.Response:
        return requests.post(f"{self.server.url}{path}", json=body, headers=self.headers, timeout=10)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.server.url}{path}", headers=self.headers, timeout=10)


def _code(fake_twilio) -> str:
    return re.search(r"\b(\d{6,10})\b", fake_twilio.create_requests[-1].form["Body"]).group(1)


def _wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def test_another_client_can_neither_read_verify_nor_lock_out_a_challenge(otp_server, fake_twilio):
    owner, intruder = Client(otp_server, name="bank-app"), Client(otp_server, name="intruder")
    created = owner.post("/api/otp", {"phone": PHONE, "purpose": "login"})
    assert created.status_code == 201, created.text
    challenge_id = created.json()["id"]
    code = _code(fake_twilio)

    assert intruder.get(f"/api/otp/{challenge_id}").status_code == 404
    for _ in range(settings.OTP_MAX_ATTEMPTS + 2):  # enough wrong codes to lock it, were they counted
        assert intruder.post("/api/otp/verify", {"id": challenge_id, "code": _wrong(code)}).status_code == 404
        by_phone = intruder.post("/api/otp/verify", {"phone": PHONE, "purpose": "login", "code": _wrong(code)})
        assert by_phone.status_code == 404
    # Even the right code is no use to another client.
    assert intruder.post("/api/otp/verify", {"id": challenge_id, "code": code}).status_code == 404
    assert intruder.post(f"/api/otp/{challenge_id}/cancel", {}).status_code == 404
    assert OtpChallenge.objects.get(pk=challenge_id).attempts == 0

    assert owner.get(f"/api/otp/{challenge_id}").json()["attempts_remaining"] == settings.OTP_MAX_ATTEMPTS
    approved = owner.post("/api/otp/verify", {"phone": PHONE, "purpose": "login", "code": code})
    assert approved.status_code == 200 and approved.json() == {"status": "approved", "verified": True}


def test_a_console_user_cannot_reach_an_api_clients_challenge(otp_server, fake_twilio):
    from tests.factories import PASSWORD, UserFactory

    from .conftest import totp_device, totp_now

    owner = Client(otp_server)
    challenge_id = owner.post("/api/otp", {"phone": PHONE, "purpose": "login"}).json()["id"]
    device = totp_device(UserFactory(username="agent.api", roles=["agent"]))
    access = requests.post(
        f"{otp_server.url}/api/auth/token",
        json={"username": "agent.api", "password": PASSWORD, "otp_token": totp_now(device)},
        timeout=10,
    ).json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    assert requests.get(f"{otp_server.url}/api/otp/{challenge_id}", headers=headers, timeout=10).status_code == 404
    verify = requests.post(
        f"{otp_server.url}/api/otp/verify", json={"id": challenge_id, "code": "123456"}, headers=headers, timeout=10
    )
    assert verify.status_code == 404


def test_id_and_phone_given_together_must_match(otp_server, fake_twilio):
    owner = Client(otp_server)
    challenge_id = owner.post("/api/otp", {"phone": PHONE, "purpose": "login"}).json()["id"]
    code = _code(fake_twilio)
    mismatch = owner.post("/api/otp/verify", {"id": challenge_id, "phone": NEVER_USED, "code": code})
    assert mismatch.status_code == 404
    assert OtpChallenge.objects.get(pk=challenge_id).status == "pending"
    # Another spelling of the same number is the same number.
    same = owner.post("/api/otp/verify", {"id": challenge_id, "phone": "+52 1 55 1234 5678", "code": code})
    assert same.status_code == 200, same.text


def test_verify_by_phone_answers_the_same_whether_or_not_the_number_ever_had_a_challenge(otp_server, fake_twilio):
    owner, prober = Client(otp_server, name="owner"), Client(otp_server, name="prober")
    owner.post("/api/otp", {"phone": PHONE, "purpose": "login"})
    had = prober.post("/api/otp/verify", {"phone": PHONE, "purpose": "login", "code": "123456"})
    never = prober.post("/api/otp/verify", {"phone": NEVER_USED, "purpose": "login", "code": "123456"})
    assert (had.status_code, had.json()) == (never.status_code, never.json())


@pytest.mark.parametrize("malformed", ["12", "abcdef", "12345a", "1234567", " ", "١٢٣"])
def test_a_malformed_code_is_a_400_that_spends_no_attempt(otp_server, fake_twilio, malformed):
    owner = Client(otp_server)
    challenge_id = owner.post("/api/otp", {"phone": PHONE, "purpose": "login"}).json()["id"]
    answer = owner.post("/api/otp/verify", {"id": challenge_id, "code": malformed})
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["attr"] == "code"
    assert OtpChallenge.objects.get(pk=challenge_id).attempts == 0


def test_a_code_typed_with_other_scripts_digits_is_read_as_its_digits(otp_server, fake_twilio):
    owner = Client(otp_server)
    challenge_id = owner.post("/api/otp", {"phone": PHONE, "purpose": "login"}).json()["id"]
    fullwidth = _code(fake_twilio).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert owner.post("/api/otp/verify", {"id": challenge_id, "code": fullwidth}).status_code == 200


def test_verifications_are_limited_per_client(prod_server, fake_twilio):
    server = prod_server(
        {
            "SMS_BACKEND": "auto",
            "TWILIO_API_BASE_URL": fake_twilio.url,
            "THROTTLE_RATE_OTP": "1000/min",
            "OTP_CLIENT_VERIFY_RATE_LIMIT_MAX": "3",
        }
    )
    owner = Client(server)
    challenge_id = owner.post("/api/otp", {"phone": PHONE, "purpose": "login"}).json()["id"]
    code = _code(fake_twilio)
    answers = [owner.post("/api/otp/verify", {"id": challenge_id, "code": _wrong(code)}) for _ in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 400]
    limited = owner.post("/api/otp/verify", {"id": challenge_id, "code": code})
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["code"] == "client_rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert OtpChallenge.objects.get(pk=challenge_id).attempts == 3  # the refused one spent nothing
    other = Client(server, name="other")  # another client is not limited by this one's count
    assert other.post("/api/otp/verify", {"id": challenge_id, "code": code}).status_code == 404


# --- 7. purposes ---------------------------------------------------------------------------------------------------


def test_any_purpose_slug_works_as_in_the_earlier_backend_unless_an_allow_list_is_set(prod_server, fake_twilio):
    open_server = prod_server({"SMS_BACKEND": "auto", "TWILIO_API_BASE_URL": fake_twilio.url, "OTP_PURPOSES": ""})
    client = Client(open_server)
    for purpose in ("loan.approval-2", "card_unlock", "x"):
        assert client.post("/api/otp", {"phone": PHONE, "purpose": purpose}).status_code == 201, purpose
    for purpose in ("Login", "two words", "a" * 33, "café", ""):
        refused = client.post("/api/otp", {"phone": PHONE, "purpose": purpose})
        assert refused.status_code == 400 and refused.json()["errors"][0]["attr"] == "purpose", purpose

    listed = prod_server(
        {"SMS_BACKEND": "auto", "TWILIO_API_BASE_URL": fake_twilio.url, "OTP_PURPOSES": "login,transaction"}
    )
    client = Client(listed)
    assert client.post("/api/otp", {"phone": NEVER_USED, "purpose": "transaction"}).status_code == 201
    assert client.post("/api/otp", {"phone": NEVER_USED, "purpose": "card_unlock"}).status_code == 400
