import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_says_the_database_is_reachable_without_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]
