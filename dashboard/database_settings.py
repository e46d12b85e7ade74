"""The DATABASES setting: which database, and how each kind of process connects to it
(docs/architecture.md, "Reading at scale")."""

import os
from pathlib import Path

import dj_database_url

POSTGRESQL = "django.db.backends.postgresql"
SQLITE = "django.db.backends.sqlite3"


def default_database(*, var_dir: Path, prepared_statements: bool, pool_size: int) -> dict:
    """DATABASE_URL (SQLite under `var_dir` without it), its statements prepared on
    PostgreSQL unless `prepared_statements` is off, its connections from a pool of
    `pool_size` (0: none) on PostgreSQL."""
    database = dj_database_url.config(
        default=f"sqlite:///{var_dir / 'slipway.sqlite3'}", conn_max_age=60
    )
    if database["ENGINE"] == POSTGRESQL and prepared_statements:
        # A page runs the same few queries at every view, and PostgreSQL took longer to plan
        # them than to run them (the board: 7.4 ms of planning against 2.4 ms of execution).
        # Bound on the server, a query is prepared on its connection at its sixth run: parsed
        # once, and planned once where PostgreSQL keeps a generic plan. Off for a
        # transaction-mode pooler that cannot keep prepared statements, queries are bound on
        # the client, Django's default and no slower than bound on the server unprepared.
        database["OPTIONS"] = {
            "server_side_binding": True,
            "prepare_threshold": 5,
            **database.get("OPTIONS", {}),
        }
    if database["ENGINE"] == POSTGRESQL and pool_size > 0:
        from dashboard.db_pool import check_connection

        database["CONN_MAX_AGE"] = 0  # the pool keeps them
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, pool_size),
            "max_size": pool_size,
            "check": check_connection,  # none a restart dropped is handed to a view
            # While the database is away a view fails after this long (/healthz: 503), not
            # psycopg's 30 s; waiting for a free connection, 3 s is hundreds of views' turns.
            "timeout": 3,
            # A failed connection attempt is retried with a doubling pause, up to this long
            # and then afresh at the next view: the pages are back within ~2 s of the
            # database, not after a pause that doubled all through the outage
            # (docs/operations.md).
            "reconnect_timeout": 5,
        }
    if database["ENGINE"] == SQLITE:
        # Live-server tests run daphne in a subprocess: the test database must be a file,
        # one per test process so that parallel runs do not share it.
        database["TEST"] = {"NAME": str(var_dir / f"test-{os.getpid()}.sqlite3")}
        database["CONN_MAX_AGE"] = 0
        database["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return database
