"""Shared fixtures: one user per role, a pipeline with dev → uat → live."""

import os
import time
import warnings

# Real password hashing costs ~0.3 s per test user. The variable reaches the
# servers tests start in subprocesses; the fixture below covers this process,
# whose settings pytest-django loaded before this file.
os.environ.setdefault("SLIPWAY_FAST_PASSWORD_HASHING", "1")

import pytest  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from pipelines.roles import Role  # noqa: E402

pytest_plugins = [
    "tests.live",
    "tests.deploying",
    "tests.workers",
    "tests.loading",
]  # shared fixtures

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, then a wait for the database sessions of the servers and workers
    tests started to end: PostgreSQL ends one a moment after its process exits, and will not
    drop the test database while one is left. One still open after 10 s is named and ended."""
    yield
    if connection.vendor != "postgresql":
        return
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute(f"SELECT count(*) {others}")
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)
        cursor.execute(f"SELECT pid, backend_start, state, left(query, 200) {others}")
        for session in cursor.fetchall():
            warnings.warn(
                f"A database session outlived the tests; ending it: {session}", stacklevel=1
            )
        cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username: str, *roles: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def users(db) -> dict[str, User]:
    """One user per role, named after it, plus 'nobody' who holds no role."""
    made = {role.value: make_user(role.value, role.value) for role in Role}
    made["nobody"] = make_user("nobody")
    return made


@pytest.fixture
def client_for(users):
    """client_for("lead") → a test client logged in as that role's user."""

    def login(name: str) -> Client:
        client = Client()
        client.force_login(users[name])
        return client

    return login


@pytest.fixture
def pipeline(db):
    """webshop: dev (branch dev) → uat (branch master) → live (promoted from uat, checklist)."""
    from pipelines.config import load_pipeline_text

    return load_pipeline_text(EXAMPLE_TOML, source="test")


EXAMPLE_TOML = """
[pipeline]
name = "webshop"
repository_url = "https://github.com/acme/webshop"

[[environments]]
name = "dev"
branch = "dev"

[[environments]]
name = "uat"
branch = "master"

[[environments]]
name = "live"
promote_from = "uat"

[[environments.checklist]]
key = "not-mid-demo"
label = "Sales: not mid-demo"
role = "sales"
valid_for = "30m"

[[environments.checklist]]
key = "not-serving-a-customer"
label = "Support: not serving a customer"
role = "support"

[[environments.checklist]]
key = "smoke-tested"
label = "QA: smoke-tested on uat"
role = "qa"
"""
