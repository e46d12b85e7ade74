import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_says_the_database_is_reachable_without_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_healthz_says_only_unavailable_when_the_database_is_down(tmp_path):
    """A real server whose database refuses it: the public answer names no host, user or
    error."""
    import requests

    from tests.live import run_server

    down = "postgres://slipway_user:hunter2@127.0.0.1:1/slipway_db"
    with run_server(tmp_path / "artifacts", env={"DATABASE_URL": down}) as server:
        response = requests.get(f"{server.url}/healthz", timeout=30)

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert "no-cache" in response.headers["Cache-Control"]
