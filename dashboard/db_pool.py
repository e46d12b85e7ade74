"""A web process's pool of database connections (dashboard/database_settings.py)."""

from django.db import connection, connections
from psycopg_pool import ConnectionPool


def check_connection(connection) -> None:
    """psycopg's check of the connection a view is about to get; when it fails, every idle
    connection is checked at once. A PostgreSQL restart breaks them all, and the pool pauses
    1 s, then 2 s, between one failed check and the next: the first view after a restart
    met two dead connections and failed after 3 s, where it now waits ~1 s for a new one."""
    try:
        ConnectionPool.check_connection(connection)
    except Exception:
        connections["default"].pool.check()  # the broken ones replaced in the background
        raise


def give_back_pooled_connection() -> None:
    """This thread's connection back to the pool, if this process has one, for a view that
    goes on without the database for a while (a download streamed in chunks); the next
    query takes one again. Without a pool the connection is kept."""
    if getattr(connection, "pool", None) is not None:
        connection.close()
