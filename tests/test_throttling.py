"""Throttled logins (django-axes) and API tokens: after repeated failures for a user or from
an address, the right credentials are refused too, for a while, with a clear message."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from tests.conftest import PASSWORD
from tests.live import bearer

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def log_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_after_25_wrong_passwords_the_right_one_is_refused_too(users, settings):
    client = Client()
    for _ in range(25):
        assert log_in(client, "lead", "wrong password").status_code in (200, 429)

    response = log_in(client, "lead", PASSWORD)

    assert response.status_code == 429
    html = response.content.decode()
    assert f"After {settings.AXES_FAILURE_LIMIT} failed attempts" in html
    assert "paused for 15 minutes, even with the right password" in html
    assert "_auth_user_id" not in client.session


def test_another_address_is_locked_out_of_the_same_user(users):
    for _ in range(10):
        log_in(Client(), "lead", "wrong password", address="10.0.0.1")

    assert log_in(Client(), "lead", PASSWORD, address="10.9.9.9").status_code == 429


def test_one_address_guessing_many_users_is_locked_out(users):
    for n in range(10):
        log_in(Client(), f"guess{n}", "wrong password", address="10.0.0.7")

    assert log_in(Client(), "developer", PASSWORD, address="10.0.0.7").status_code == 429
    assert log_in(Client(), "developer", PASSWORD, address="10.0.0.8").status_code == 302


def test_a_few_mistakes_do_not_lock_anyone_out(users):
    client = Client()
    for _ in range(3):
        log_in(client, "qa", "wrong password")

    assert log_in(client, "qa", PASSWORD).status_code == 302


def test_wrong_api_tokens_are_rate_limited_with_429(users, token_for, settings):
    good = token_for("developer")
    api = "/api/v1/pipelines"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = Client(headers=bearer("slw_guessed")).get(api, REMOTE_ADDR="10.0.0.2")
        assert response.status_code == 401

    refused = Client(headers=bearer(good)).get(api, REMOTE_ADDR="10.0.0.2")
    other = Client(headers=bearer(good)).get(api, REMOTE_ADDR="10.0.0.3")

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_failures"
    assert "Too many wrong API tokens from 10.0.0.2" in refused.json()["error"]["message"]
    assert refused["Retry-After"] == "900"
    assert other.status_code == 200


@pytest.mark.parametrize("password", ["password123", "12345678901234"])
def test_common_and_numeric_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)
