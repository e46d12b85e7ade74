"""Nobody sees more than their role allows, checked on the server."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/pipelines/webshop/",
    "/pipelines/webshop/environments/uat/",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_users_are_sent_to_the_login_page(pipeline, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_login_page_is_open_to_everyone():
    assert Client().get("/accounts/login/").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_a_user_without_a_role_is_refused_and_told_which_leads_to_ask(pipeline, client_for, path):
    response = client_for("nobody").get(path)
    assert response.status_code == 403
    assert "Ask a team lead to add you: <strong>lead</strong>." in response.content.decode()


@pytest.mark.parametrize("role", ["lead", "developer", "sales", "support", "qa"])
def test_every_role_sees_the_board(pipeline, client_for, role):
    response = client_for(role).get("/pipelines/webshop/")
    assert response.status_code == 200
    assert b'data-env="live"' in response.content


def test_the_header_names_every_group_of_the_user_read_once_with_the_roles(
    pipeline, users, client_for
):
    users["qa"].groups.add(Group.objects.create(name="night-shift"))  # not a Slipway role
    with CaptureQueriesContext(connection) as captured:
        response = client_for("qa").get("/pipelines/webshop/environments/uat/")
    who = re.search(r'data-field="who">(.*?)</span></span>', response.content.decode()).group(1)
    assert who.startswith("qa<span") and sorted(who.split(" · ")[1].split(", ")) == [
        "night-shift",
        "qa",
    ]
    assert sum('"auth_group"' in query["sql"] for query in captured) == 1


def test_a_user_logs_in_through_the_form_and_lands_on_the_board(pipeline, users):
    from tests.conftest import PASSWORD

    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "sales", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/pipelines/webshop/"
    assert b'data-env="uat"' in response.content


def test_a_wrong_password_is_refused_with_a_message(pipeline, users):
    response = Client().post("/accounts/login/", {"username": "sales", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_logging_out_ends_the_session(pipeline, client_for):
    client = client_for("lead")
    assert client.post("/accounts/logout/").status_code in (200, 302)
    assert client.get("/pipelines/webshop/").status_code == 302


def test_the_admin_is_for_staff_only(client_for):
    response = client_for("lead").get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
