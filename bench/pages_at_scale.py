"""How fast the pages answer with a long history, next to the same pages with a short one.

    DATABASE_URL=postgres://…/slipway_scale_bench .venv/bin/python bench/pages_at_scale.py
    … [--builds 100000] [--deployments 10000] [--lines-each 80] [--long-log 200000]
    … [--requests 30] [--reseed] [--sqlite]

Seeds, once (re-used by later runs unless --reseed or the sizes change), a pipeline of 10
environments with --builds builds, --deployments finished deployments with as many audit
events, --lines-each log lines on each deployment and a --long-log-line log on the newest
(the defaults: 100k builds, 10k deployments, 1M log lines), and a twin pipeline with 100
builds and 300 deployments (each page as full as the long history's). Then times, through
Django's test client as a signed-in lead with production settings (DEBUG off, cached
templates, whitenoise), --requests requests of each page of both, in turns, after 3
warm-ups, and prints p50/p95, the ratio of the long history's p95 to the short one's, and
the long history's p50 time in the database's calls (SLIPWAY_DB_PREPARED_STATEMENTS=0
shows them unprepared). Goals: p95 ≤ 50 ms, ratio ≤ 1.3. The short history is the
ceiling measured in the same run: quote the ratio, the machine is shared.

Each turn also times the same fixed work, a template rendered without the database: its
p95 over its p50 is how far the machine's own speed moved during the run. A p95 compared
with a p50 measures that spread as much as the page, so the ratio compares p95 with p95
(and p50 with p50); the long p95 over the short p50 is printed beside it.
"""

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

GOAL_MS = 50
GOAL_RATIO = 1.3
ENVIRONMENTS = 10


def pipeline_toml(name: str) -> str:
    """dev (branch dev) → uat (branch master) → eight environments promoted one from the
    other, the last (live) guarded by a checklist."""
    names = ["dev", "uat", *(f"stage{n}" for n in range(1, ENVIRONMENTS - 2)), "live"]
    text = f'[pipeline]\nname = "{name}"\nrepository_url = "https://github.com/acme/{name}"\n'
    for n, env in enumerate(names):
        text += f'\n[[environments]]\nname = "{env}"\n'
        if n == 0:
            text += 'branch = "dev"\n'
        elif n == 1:
            text += 'branch = "master"\n'
        else:
            text += f'promote_from = "{names[n - 1]}"\n'
    for role, key in (("sales", "not-mid-demo"), ("support", "no-customer"), ("qa", "smoke")):
        text += f'\n[[environments.checklist]]\nkey = "{key}"\nlabel = "{key}"\nrole = "{role}"\n'
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=100_000)
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--lines-each", type=int, default=80)
    parser.add_argument("--long-log", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--sqlite", action="store_true", help="var/bench-pages.sqlite3")
    args = parser.parse_args()

    if args.sqlite or not os.environ.get("DATABASE_URL"):
        if not args.sqlite:
            print("PostgreSQL is the mode that counts: set DATABASE_URL, or pass --sqlite.")
            return 2
        os.environ["DATABASE_URL"] = f"sqlite:///{BASE_DIR / 'var' / 'bench-pages.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("SECRET_KEY", "slipway-bench-only-not-a-secret-" + "x" * 32)
    os.environ.setdefault("SLIPWAY_ARTIFACT_DIR", str(BASE_DIR / "var" / "bench-pages"))
    os.environ["DEBUG"] = "0"  # as deployed: a DEBUG page keeps every query and is slower

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    # No setup_test_environment(): it swaps in the instrumented template renderer (a copy of
    # every context for the test client), which no deployment has.
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(production_settings())

    lead = bench_lead()
    sizes = (args.builds, args.deployments, args.lines_each, args.long_log)
    big = seeded("scale", sizes, lead, reseed=args.reseed)
    # The short history fills every page the long one does (25 releases and deployments an
    # environment, 50 audit events, 2,000 log lines): the ratio measures history, not page fill.
    small = seeded("scale-small", (100, 300, args.lines_each, 2_000), lead, reseed=args.reseed)
    analyze()
    for pipeline in (big, small):
        audit_checked(pipeline)

    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host of the default settings
    client.force_login(lead)
    gc.freeze()  # as the server does once started (dashboard/asgi.py)
    print(f"\n{args.requests} requests per page; ms")
    print(
        f"{'page':<24}{'100 builds p50':>15}{'p95':>8}{f'{args.builds:,} p50':>13}{'p95':>8}"
        f"{'ratio':>7}{'p50/p50':>9}{'p95/p50':>9}{'db p50':>8}"
    )
    missed, fixed_work = False, []
    for label, path, headers in pages():
        (short, long), database = timings(
            client, (path(small), path(big)), headers, args.requests, fixed_work
        )
        ratio = percentile(long, 95) / percentile(short, 95)
        ok = percentile(long, 95) <= GOAL_MS and ratio <= GOAL_RATIO
        missed |= not ok
        print(
            f"{label:<24}{statistics.median(short):>15.1f}{percentile(short, 95):>8.1f}"
            f"{statistics.median(long):>13.1f}{percentile(long, 95):>8.1f}{ratio:>7.2f}"
            f"{statistics.median(long) / statistics.median(short):>9.2f}"
            f"{percentile(long, 95) / statistics.median(short):>9.2f}"
            f"{statistics.median(database):>8.1f}"
            f"{'' if ok else '  (goal missed)'}"
        )
    spread = percentile(fixed_work, 95) / statistics.median(fixed_work)
    print(
        f"{'the same fixed work':<24}{statistics.median(fixed_work):>15.1f}"
        f"{percentile(fixed_work, 95):>8.1f}   its p95/p50 {spread:.2f}: the machine's own spread"
    )
    print(
        f"goals: p95 ≤ {GOAL_MS} ms and ratio (the long history's p95 over the short one's) "
        f"≤ {GOAL_RATIO}; p95/p50 is the long p95 over the short p50; db p50 is the long "
        "history's time in the database's calls (execute)"
    )
    return 1 if missed else 0


def audit_checked(pipeline) -> None:
    """The audit page verifies the events new since its pipeline's checkpoint, 200 a view
    (pipelines/audit.py): a history seeded in bulk (or a checkpoint made under another
    SECRET_KEY) would have every timed view of the long history walk 200 old events. Bring
    the checkpoint to the newest event first, where regular viewing keeps it."""
    from pipelines.audit import verify_since_checkpoint

    while verify_since_checkpoint(pipeline).unchecked:
        pass


def analyze() -> None:
    """Fresh planner statistics, as autovacuum keeps them on a database that grew slowly (a
    bulk seeding leaves estimates of a few rows for tables of a hundred thousand)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def production_settings() -> str:
    """What the timed requests run with; refuses what a deployment would not have."""
    from django.conf import settings
    from django.template import engines

    if settings.DEBUG:
        raise SystemExit("DEBUG is on: the figures would not be a deployment's.")
    loaders = engines["django"].engine.template_loaders
    cached = [type(loader).__module__ for loader in loaders] == ["django.template.loaders.cached"]
    if not cached:
        raise SystemExit(f"templates are not cached ({loaders}): not a deployment's figures.")
    whitenoise = "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    threshold = settings.DATABASES["default"].get("OPTIONS", {}).get("prepare_threshold")
    prepared = f"prepared after {threshold} runs" if threshold is not None else "not prepared"
    return (
        f"settings: DEBUG off, cached template loader, "
        f"{'whitenoise' if whitenoise else 'no whitenoise'}, "
        f"statements {prepared}, "
        f"sessions in {settings.SESSION_ENGINE.rsplit('.', 1)[-1]}, "
        f"cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, "
        "startup objects frozen (gc.freeze)"
    )


def pages():
    """(label, path(pipeline), headers) of every page timed."""
    from pipelines.models import Deployment

    def newest_deployment(pipeline) -> int:
        return Deployment.objects.filter(environment__pipeline=pipeline).latest("pk").pk

    api_headers = {"Authorization": f"Bearer {_token()}"}
    return [
        ("board", lambda p: f"/pipelines/{p.name}/", {}),
        ("environment page", lambda p: f"/pipelines/{p.name}/environments/live/", {}),
        ("audit log", lambda p: f"/pipelines/{p.name}/audit/", {}),
        ("deployment page", lambda p: f"/deployments/{newest_deployment(p)}/", {}),
        ("GET /api/v1/pipelines/p", lambda p: f"/api/v1/pipelines/{p.name}", api_headers),
    ]


def _token() -> str:
    from django.contrib.auth.models import User

    from pipelines.tokens import create_token

    return create_token(User.objects.get(username="bench-lead"), name="bench api")[1]


def timings(
    client, paths: tuple[str, str], headers: dict, count: int, fixed_work: list[float]
) -> tuple[list[list[float]], list[float]]:
    """`count` timed requests of each path, taken in turns: a shared machine's load then
    weighs on both alike, and the ratio between them stays meaningful. Returns the times of
    each path and the time the last path's requests spent in the database's calls. Each
    turn adds the time of the same fixed work to `fixed_work`."""
    from django.db import connection

    for path in paths:
        for _ in range(3):
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
    work = fixed_template_work()
    took: list[list[float]] = [[] for _ in paths]
    in_database, database = 0.0, []

    def timed(execute, sql, params, many, context):
        nonlocal in_database
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_database += time.perf_counter() - started

    with connection.execute_wrapper(timed):
        for _ in range(count):
            for path, times in zip(paths, took, strict=True):
                in_database = 0.0
                started = time.perf_counter()
                client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
            database.append(in_database * 1000)
            started = time.perf_counter()
            work()
            fixed_work.append((time.perf_counter() - started) * 1000)
    return took, database


def fixed_template_work():
    """Rendering a table of 200 rows, the same each time and without the database: what a
    page does most of, so that its times move with the machine as the pages' do."""
    from django.template import engines

    table = engines["django"].from_string(
        "<table>{% for row in rows %}<tr><td>{{ row.name }}</td><td>{{ row.sha|slice:':7' }}"
        "</td><td>{% if row.ok %}passed{% else %}failed{% endif %}</td></tr>{% endfor %}</table>"
    )
    rows = [{"name": f"build {n}", "sha": f"{n:040x}", "ok": n % 3 != 0} for n in range(200)]
    return lambda: table.render({"rows": rows})


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def bench_lead():
    from django.contrib.auth.models import Group, User

    from pipelines.roles import Role

    user, _ = User.objects.get_or_create(username="bench-lead")
    user.groups.add(Group.objects.get_or_create(name=Role.LEAD.value)[0])
    return user


def seeded(name: str, sizes: tuple[int, int, int, int], lead, *, reseed: bool):
    """The pipeline `name` with that history, made now unless an earlier run left it."""
    from pipelines.config import load_pipeline_text
    from pipelines.models import AuditEvent, Pipeline

    builds, deployments, lines_each, long_log = sizes
    marker = f"seeded {builds} {deployments} {lines_each} {long_log}"
    existing = Pipeline.objects.filter(name=name).first()
    if (
        existing
        and not reseed
        and AuditEvent.objects.filter(
            pipeline=existing, action="bench_seeded", message=marker
        ).exists()
    ):
        print(f"{name}: re-using the history seeded by an earlier run ({marker})")
        return existing
    if existing:
        drop(existing)
    from tests.history import add_history

    started = time.perf_counter()
    pipeline = load_pipeline_text(pipeline_toml(name), source="bench")
    add_history(
        pipeline,
        builds=builds,
        deployments=deployments,
        lines_each=lines_each,
        long_log=long_log,
        actor=lead,
    )
    AuditEvent.objects.create(pipeline=pipeline, action="bench_seeded", message=marker)
    print(f"{name}: seeded {marker} in {time.perf_counter() - started:.0f} s")
    return pipeline


def drop(pipeline) -> None:
    """Everything of an earlier seeding, children first (the audit log is append-only and
    releases protect their builds)."""
    from django.db import connection

    from pipelines.models import AuditEvent, Build, Deployment, Environment, LogLine, Release

    Environment.objects.filter(pipeline=pipeline).update(current_release=None, waiting_build=None)
    LogLine.objects.filter(deployment__environment__pipeline=pipeline).delete()
    Deployment.objects.filter(environment__pipeline=pipeline).delete()
    Release.objects.filter(environment__pipeline=pipeline).delete()
    Build.objects.filter(pipeline=pipeline).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {AuditEvent._meta.db_table} WHERE pipeline_id = %s", [pipeline.pk]
        )
    pipeline.delete()


if __name__ == "__main__":
    sys.exit(main())
