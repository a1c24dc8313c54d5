import pytest
from django.core.management import call_command

from audit.models import AuditLog
from interactions.models import CallDetail, Interaction, Message
from otp.models import OtpChallenge
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_seed_demo_creates_data_across_channels(capsys):
    call_command("seed_demo", "--interactions", "300", "--seed", "7", "--batch", "100")
    assert Interaction.objects.count() == 300
    assert set(Interaction.objects.values_list("channel", flat=True)) == {"call", "whatsapp", "sms"}
    assert CallDetail.objects.exclude(transcript=[]).count() == Interaction.objects.filter(channel="call").count()
    assert Message.objects.filter(channel="whatsapp").count() > 0
    assert Message.objects.filter(channel="sms").values("status").distinct().count() > 1
    assert OtpChallenge.objects.count() == Interaction.objects.filter(channel="sms").count()
    assert InteractionEvent.objects.count() > 0
    assert AuditLog.objects.filter(action="interaction.assigned").count() > 0
    # dates spread over the past, not all "now"
    assert Interaction.objects.dates("created_at", "day").count() > 10
    assert "seed_demo: created 300 interactions" in capsys.readouterr().out


def test_dashboard_draws_svg_charts_and_lists_what_needs_attention(staff_client, make_staff):
    call_command("seed_demo", "--interactions", "200", "--seed", "3", "--days", "10")
    response = staff_client(make_staff("sup", "supervisor")).get("/admin/dashboard/")
    assert response.status_code == 200
    content = response.content.decode()
    assert content.count('class="cc-chart"') == 4
    assert "/admin/webhooks/interactionevent/?status__exact=failed" in content
    assert "/admin/otp/otpchallenge/?status__exact=failed" in content
    assert "/admin/interactions/message/?status__in=queued%2Csending" in content
    index = staff_client(make_staff("sup2", "supervisor")).get("/admin/").content.decode()
    assert "/admin/dashboard/" in index


def test_bench_admin_measures_the_changelist(capsys):
    call_command("seed_demo", "--interactions", "60", "--seed", "5")
    call_command("bench_admin", "--repeat", "1")
    out = capsys.readouterr().out
    assert "page 1" in out and "phone search" in out and "filter date" in out
