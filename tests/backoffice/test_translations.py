"""Every label of the back office is translatable; Spanish comes from LANGUAGE_CODE or the browser's language."""

import pytest
from django.test import override_settings

from tests.factories import OngoingInteractionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@override_settings(LANGUAGE_CODE="es")
def test_spanish_from_language_code(staff_client, make_staff):
    interaction = OngoingInteractionFactory()
    client = staff_client(make_staff("sup", "supervisor"))
    page = client.get(f"/admin/interactions/interaction/{interaction.pk}/change/").content.decode()
    assert "Cronología" in page and "Transcripción" in page and "Mostrar número" in page
    assert "Back office del Contact Center" in page
    listing = client.get("/admin/interactions/interaction/").content.decode()
    assert "teléfono del cliente" in listing.lower() and "Últimos 7 días" in listing
    assert "Requiere atención" in client.get("/admin/dashboard/").content.decode()


def test_english_by_default_and_spanish_on_request(staff_client, make_staff):
    client = staff_client(make_staff("sup", "supervisor"))
    assert "Needs attention" in client.get("/admin/dashboard/").content.decode()
    spanish = client.get("/admin/dashboard/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Embudo de entrega de SMS" in spanish


@override_settings(LANGUAGE_CODE="es")
def test_login_page_in_spanish(client):
    assert "Código del autenticador" in client.get("/admin/login/").content.decode()
