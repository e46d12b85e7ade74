"""The pages through a real web server, with and without the web process's connection pool.

    DATABASE_URL=postgres://…/slipway_scale_bench REDIS_URL=redis://127.0.0.1:6379/9 \
    .venv/bin/python bench/pages_through_daphne.py [--requests 60] [--concurrent 8]

On the history `bench/pages_at_scale.py` seeds (run it first), starts two daphne processes in
production mode (DEBUG off, REDIS_URL set): one as deployed, its connections pooled
(SLIPWAY_DB_POOL_SIZE, default 8), and one with SLIPWAY_DB_POOL_SIZE=0, where each request
thread opens its own connection. Then, as a signed-in lead over HTTP:

- times --requests views of each page of the long history, one at a time, the two servers in
  turns, and prints p50/p95 and the pooled p95 over the unpooled one;
- times the same requests of a static file (whitenoise, no database) and of /healthz (one
  `SELECT 1`): the server's own floors, the ceilings measured in the same run;
- sends --concurrent views at once to each server, 10 each, and prints how many database
  connections each server holds afterwards.

Goals: the pages' p95 ≤ 50 ms through the pooled server, and it holds no more connections
than its pool.
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.pages_at_scale import bench_lead, pages, percentile  # noqa: E402

GOAL_MS = 50
STATIC_FILE = "/static/css/slipway.css"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrent", type=int, default=8)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to the PostgreSQL database pages_at_scale.py seeded.")
        return 2
    if not os.environ.get("REDIS_URL"):
        print("Set REDIS_URL: a web process pools its connections in production mode only.")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("SECRET_KEY", "slipway-bench-only-not-a-secret-" + "x" * 32)
    os.environ.setdefault("SLIPWAY_ARTIFACT_DIR", str(BASE_DIR / "var" / "bench-pages"))
    os.environ["DEBUG"] = "0"

    import django

    django.setup()
    import requests
    from django.conf import settings

    from pipelines.models import Pipeline
    from tests.live import connections_named, run_server, session_cookie, with_application_name

    big = Pipeline.objects.filter(name="scale").first()
    if big is None:
        print("No seeded history: run bench/pages_at_scale.py on this database first.")
        return 2
    pool_size = settings.SLIPWAY_DB_POOL_SIZE or 8
    print(f"database: PostgreSQL ({settings.DATABASES['default']['NAME']}), daphne, DEBUG off")

    cookie = {"Cookie": session_cookie(bench_lead())}
    pool_sizes = {"pooled": pool_size, "unpooled": 0}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(
                run_server(
                    BASE_DIR / "var" / f"bench-daphne-{name}" / "artifacts",
                    env={
                        "DATABASE_URL": with_application_name(
                            os.environ["DATABASE_URL"], f"slipway-bench-{name}"
                        ),
                        "SLIPWAY_DB_POOL_SIZE": str(size),
                    },
                )
            )
            for name, size in pool_sizes.items()
        }
        sessions = {name: requests.Session() for name in servers}
        for session in sessions.values():
            session.headers.update(cookie)
        print(f"\n{args.requests} views of each page, one at a time, the servers in turns; ms")
        print(
            f"{'page':<24}{'pooled p50':>11}{'p95':>8}{'unpooled p50':>14}{'p95':>8}{'p95/p95':>9}"
        )
        missed = False
        floors = [
            ("static file (floor)", lambda p: STATIC_FILE, {}),
            ("/healthz (SELECT 1)", lambda p: "/healthz", {}),
        ]
        for label, path, headers in [*floors, *pages()]:
            times = {name: [] for name in servers}
            for name, server in servers.items():  # warm-ups
                for _ in range(3):
                    sessions[name].get(server.url + path(big), headers=headers, timeout=30)
            for _ in range(args.requests):
                for name, server in servers.items():
                    started = time.perf_counter()
                    answer = sessions[name].get(server.url + path(big), headers=headers, timeout=30)
                    times[name].append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        raise SystemExit(f"{name}: {path(big)} answered {answer.status_code}")
            pooled, unpooled = times["pooled"], times["unpooled"]
            ok = percentile(pooled, 95) <= GOAL_MS
            missed |= not ok
            print(
                f"{label:<24}{statistics.median(pooled):>11.1f}{percentile(pooled, 95):>8.1f}"
                f"{statistics.median(unpooled):>14.1f}{percentile(unpooled, 95):>8.1f}"
                f"{percentile(pooled, 95) / percentile(unpooled, 95):>9.2f}"
                f"{'' if ok else '  (goal missed)'}"
            )

        board = f"/pipelines/{big.name}/"
        print(f"\n{args.concurrent} views of the board at once, 10 each; connections held after")
        for name, server in servers.items():

            def view(_, name=name, server=server) -> int:
                return sessions[name].get(server.url + board, timeout=60).status_code

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.concurrent) as views:
                answers = list(views.map(view, range(args.concurrent * 10)))
            took = time.perf_counter() - started
            held = connections_named(f"slipway-bench-{name}")
            ok = name != "pooled" or held <= pool_size
            missed |= not ok
            print(
                f"{name:<10} {len(answers) / took:6.1f} views/s, answers {sorted(set(answers))}, "
                f"{held} connections held"
                + (f" (pool of {pool_size})" if name == "pooled" else "")
                + ("" if ok else "  (goal missed)")
            )
    print(
        f"goals: p95 ≤ {GOAL_MS} ms through the pooled server; it holds no more connections "
        "than its pool. The static file and /healthz are the floors of any view through daphne"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
