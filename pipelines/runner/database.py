"""Riding out a database blink in the runner: a PostgreSQL restart, a failover, a dropped
connection. What the runner stores (its log, its steps, its outcome) is retried on a new
connection for up to SLIPWAY_DB_RETRY_SECONDS; past that `DatabaseAway` is raised, the step
fails, and the runner puts the previous release back (docs/operations.md).
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

MAX_PAUSE = 2.0


class DatabaseAway(Exception):
    """The database did not answer for the whole retry period; the message says while what."""


def retrying[T](operation: Callable[[], T], *, what: str, seconds: float | None = None) -> T:
    """`operation()`, tried again on a fresh connection while the database does not answer.

    Inside a transaction nothing is retried (the transaction is lost with its connection):
    the error goes up to whoever opened it."""
    seconds = settings.SLIPWAY_DB_RETRY_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + seconds
    pause = 0.1
    while True:
        try:
            return operation()
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block:
                raise
            connection.close()  # the next query opens a new one
            if time.monotonic() + pause > deadline:
                raise DatabaseAway(
                    f"The database did not answer for {seconds:g} s while {what} ({exc})."
                ) from exc
            logger.warning("the database did not answer while %s; retrying: %s", what, exc)
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
