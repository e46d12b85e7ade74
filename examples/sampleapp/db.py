"""The sample app's database migrations — the demo's `release_command`. SQLite, stdlib.

    python3 db.py migrate --database ../../../shop.sqlite3

Applies, in order, the migrations of this release the database has not had yet, and says
which; running it again applies nothing.
"""

import argparse
import sqlite3
from contextlib import closing

MIGRATIONS = [
    (
        "0001_products",
        "CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "price_cents INTEGER NOT NULL)",
    ),
    (
        "0002_orders",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL "
        "REFERENCES product(id), placed_at TEXT NOT NULL)",
    ),
    ("0003_gift_cards", "CREATE TABLE gift_card (code TEXT PRIMARY KEY, cents INTEGER NOT NULL)"),
]


def migrate(database: str) -> list[str]:
    """Apply what is missing, each in its own transaction; the names applied."""
    applied_now = []
    with closing(sqlite3.connect(database, timeout=10)) as db:
        db.execute("CREATE TABLE IF NOT EXISTS migration (name TEXT PRIMARY KEY, applied_at TEXT)")
        done = {name for (name,) in db.execute("SELECT name FROM migration")}
        for name, statement in MIGRATIONS:
            if name in done:
                continue
            with db:
                db.execute(statement)
                db.execute("INSERT INTO migration VALUES (?, datetime('now'))", (name,))
            print(f"Applied {name}", flush=True)
            applied_now.append(name)
    if not applied_now:
        print("No migrations to apply.")
    return applied_now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["migrate"])
    parser.add_argument("--database", required=True)
    args = parser.parse_args()
    migrate(args.database)


if __name__ == "__main__":
    main()
