"""Reaching real services from tests.

Without a service a test skips with a loud reason; with REQUIRE_SERVICES=1
(as CI sets) a missing service fails the test instead, so nothing is skipped
silently where it must run.
"""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _reachable(url: str) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def need(available: bool, what: str) -> None:
    if available:
        return
    message = f"SKIPPED FOR LACK OF A SERVICE: {what}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} (REQUIRE_SERVICES=1, so this is a failure)", pytrace=False)
    pytest.skip(message)


def need_redis() -> str:
    need(_reachable(REDIS_URL), f"no Redis at {REDIS_URL}")
    return REDIS_URL


def need_postgres() -> None:
    from django.db import connection

    need(connection.vendor == "postgresql", "this test needs PostgreSQL (set DATABASE_URL)")


def need_chromium() -> str:
    need(os.path.exists(CHROMIUM), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


def need_program(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not on PATH")
    return path
