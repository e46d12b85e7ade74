"""On PostgreSQL, queries are bound on the server and a statement a connection runs again and
again is prepared, not parsed and planned at every run, where planning took longer than
running (dashboard/database_settings.py; docs/architecture.md, "Reading at scale"). Behind a
transaction-mode pooler, an operator turns preparing off."""

import os
import subprocess
import sys

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

from pipelines.models import AuditEvent
from pipelines.models.queries import constants
from tests.factories import passing_build
from tests.live import database_url
from tests.promoting import deploy, env, uat_runs_a_new_build
from tests.services import need_postgres

SEVEN_LOOKUPS_THEN_COUNT_PREPARED = """
import django; django.setup()
from django.contrib.auth.models import User
from django.db import connection
for _ in range(7):
    User.objects.filter(username="nobody").exists()
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM pg_prepared_statements")
    print(cursor.fetchone()[0])
"""


def prepared_in_a_fresh_process(env: dict[str, str]) -> int:
    """Slipway's settings in a new process on this test database, with `env`: how many
    statements its connection holds prepared after the same lookup seven times."""
    result = subprocess.run(
        [sys.executable, "-c", SEVEN_LOOKUPS_THEN_COUNT_PREPARED],
        cwd=settings.BASE_DIR,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": database_url(),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@pytest.mark.django_db
def test_the_board_viewed_again_and_again_is_planned_once_on_its_connection(pipeline, client_for):
    need_postgres()
    client = client_for("lead")
    for _ in range(7):
        assert client.get("/pipelines/webshop/").status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    # The board's read of its environments (pipelines/board.py, _environments_of).
    assert any('FROM "pipelines_environment" e' in statement for statement in prepared), prepared


@pytest.mark.django_db(transaction=True)
def test_a_lookup_run_again_and_again_is_prepared_by_default():
    need_postgres()
    assert prepared_in_a_fresh_process({}) >= 1


@pytest.mark.django_db(transaction=True)
def test_an_operator_behind_a_transaction_pooler_turns_preparing_off():
    need_postgres()
    assert prepared_in_a_fresh_process({"SLIPWAY_DB_PREPARED_STATEMENTS": "0"}) == 0


@pytest.mark.django_db(transaction=True)
def test_a_column_a_migration_adds_meanwhile_does_not_break_the_prepared_board(
    pipeline, client_for
):
    """`migrate` adds a column while the web processes keep their connections, as in a
    release phase: a prepared statement selecting `*` of that table would fail ("cached plan
    must not change result type") until its connection closed. Every statement names its
    columns."""
    need_postgres()
    client = client_for("lead")
    deploy(env(pipeline, "live"), passing_build(pipeline, "master", message="Coupons"))
    uat_runs_a_new_build(pipeline)  # ahead of live: the board lists the builds between
    for _ in range(7):
        assert client.get("/pipelines/webshop/").status_code == 200

    tables = [
        model._meta.db_table
        for model in apps.get_app_config("pipelines").get_models()
        if model is not AuditEvent  # append-only, and not read by the board
    ]
    migration = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        for table in tables:
            migration.execute(f'ALTER TABLE "{table}" ADD COLUMN added_later integer')
        response = client.get("/pipelines/webshop/")
    finally:
        connection.close()  # its statements were prepared for the tables as they were
        for table in tables:
            migration.execute(f'ALTER TABLE "{table}" DROP COLUMN IF EXISTS added_later')
        migration.close()
    assert response.status_code == 200
    assert b'data-env="live"' in response.content


def test_only_the_codes_own_words_are_written_into_a_statement():
    assert constants(["queued", "running"]) == "'queued', 'running'"
    for hostile in ["run'ning", "x'); DROP TABLE pipelines_build; --", "Running", ""]:
        with pytest.raises(ValueError, match="not a constant of the code"):
            constants(["queued", hostile])
