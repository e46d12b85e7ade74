"""How fast the runner stores and publishes a chatty deployment's output, next to the
fastest the database takes the same rows, measured in the same run.

    DATABASE_URL=postgres://…/slipway_bench .venv/bin/python bench/deploy_log.py [--rounds 5]
    .venv/bin/python bench/deploy_log.py --sqlite [--dir var/bench-deploy]

Runs a script-driver deployment whose command prints --lines lines with the real runner
(rows stored first, published after commit in batches to channels-redis, on a redis-server
started for the run, as a production worker does; --in-memory-layer publishes to the
in-memory layer instead). The ceiling is the same number of rows, prepared in advance in
COPY's text format and encoded (the runner formats its own), written the way the runner
writes them — on PostgreSQL `BEGIN; COPY; COMMIT` as one round trip (pipelines/copy_batch.py;
the runner's batches also hold the UPDATE reserving their seqs), executemany on SQLite — in
the runner's batch size, one transaction per batch, with nothing else to do. The machine is
shared and its speed comes and goes within seconds, so the run takes turns: a ceiling, a
deployment, a ceiling, … (--rounds deployments); each deployment's ratio is to the mean of
the ceilings just before and after it, and the run's figure is the median of those ratios.
Goal on PostgreSQL: ratio ≥ 0.6.
"""

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="printed per round")
    parser.add_argument(
        "--rounds", type=int, default=5, help="deployments, each between two ceilings"
    )
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite database")
    parser.add_argument("--dir", type=Path, default=BASE_DIR / "var" / "bench-deploy")
    parser.add_argument(
        "--in-memory-layer", action="store_true", help="publish to no Redis (embedded mode)"
    )
    args = parser.parse_args()

    scratch = args.dir.resolve()
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    if args.sqlite or not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["SLIPWAY_ARTIFACT_DIR"] = str(scratch / "artifacts")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    # DATABASE_URL makes it production mode, which needs a key: this one is for here only.
    os.environ.setdefault("SECRET_KEY", "slipway-bench-only-not-a-secret-" + "x" * 32)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from dashboard.settings import redis_channel_layers

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    redis = None
    if not args.in_memory_layer:
        redis = start_redis(scratch)
        # Only the channel layer: without REDIS_URL the deployment runs in this process.
        settings.CHANNEL_LAYERS = redis_channel_layers(redis.url)
    print(f"channel layer: {'channels-redis' if redis else 'in memory'}")
    try:
        return run(args, connection)
    finally:
        if redis is not None:
            redis.stop()


def run(args, connection) -> int:

    import pipelines.live
    import pipelines.runner.log_writer as log_writer
    from pipelines.artifacts import store_artifact
    from pipelines.builds import attach_artifact, record_build
    from pipelines.config import load_pipeline_text
    from pipelines.deploys import request_deployment
    from pipelines.live import wait_until_published

    batches, messages = [], []
    original_publish, original_send = pipelines.live.publish_log, pipelines.live._send_now

    def counting_publish(deployment_id, rows):
        batches.append(len(rows))
        original_publish(deployment_id, rows)

    async def counting_send(layer, group, message):
        if message["type"] == "log.lines":
            messages.append(len(message["lines"]))
        await original_send(layer, group, message)

    log_writer.publish_log = counting_publish
    pipelines.live._send_now = counting_send

    pipeline = load_pipeline_text(
        '[pipeline]\nname = "bench-log"\n[[environments]]\nname = "dev"\ndriver = "script"\n'
        f'deploy_command = "seq 1 {args.lines}"\n'
    )
    build, _ = record_build(pipeline, sha=uuid.uuid4().hex * 2, status="passed", branch="topic")
    attach_artifact(build, store_artifact([b"bench"]))
    build.refresh_from_db()
    environment = pipeline.environments.get()

    # A worker's child freezes what it inherited (dashboard/celery.py): without that, the
    # collections the runner's batches set off scanned all of Django, 0.5 ms of each batch.
    gc.freeze()
    ceilings = [ceiling(environment, build, args.lines, log_writer.MAX_BATCH)]
    rounds, published, failed = [], True, []
    for _ in range(args.rounds):
        started = time.perf_counter()
        # Outside a server, the request runs the deployment itself, as `load_demo` does.
        deployment = request_deployment(environment, build, cause="manual")
        took = time.perf_counter() - started
        published &= wait_until_published(30)
        ceilings.append(ceiling(environment, build, args.lines, log_writer.MAX_BATCH))
        deployment.refresh_from_db()
        if deployment.status != "succeeded":
            failed.append(f"#{deployment.pk} {deployment.status}: {deployment.error}")
        rounds.append((deployment.log_lines.count(), took, streaming_rate(deployment)))

    how = (
        "BEGIN; COPY; COMMIT, one round trip"
        if connection.vendor == "postgresql"
        else "executemany"
    )
    print(
        f"{args.rounds} rounds of {args.lines:,} lines, the ceiling (raw {how},"
        f" {log_writer.MAX_BATCH}-row batches, commit each) measured before, between and after"
    )
    header = f"{'round':>5} {'runner lines/s':>15} {'ceiling rows/s':>15} {'ratio':>6}"
    print(f"{header}   whole deployment")
    ratios = []
    for n, (stored, took, rate) in enumerate(rounds):
        best = (ceilings[n] + ceilings[n + 1]) / 2  # the ceilings just before and after
        ratios.append(rate / best)
        print(
            f"{n + 1:>5} {rate:>15,.0f} {best:>15,.0f} {rate / best:>6.2f}"
            f"   {stored:,} lines in {took:.2f} s ({stored / took:,.0f} lines/s with unpacking,"
            " steps, start and end)"
        )
    print("runner: lines/s between the command's first and last stored batch (reading, storing,")
    print("        publishing); ceiling: the mean of the two measured around that round")
    print(
        f"ratio:   {statistics.median(ratios):.2f} of the ceiling, the median of the rounds"
        f" ({min(ratios):.2f}–{max(ratios):.2f}; goal on PostgreSQL: ≥ 0.6)"
    )
    print(
        f"published: {len(batches):,} batches stored, sent as {len(messages):,} messages "
        f"(mean {sum(messages) / max(len(messages), 1):,.0f} lines, max {max(messages, default=0)})"
        f"{'' if published else '; NOT ALL SENT within 30 s'}"
    )
    for failure in failed:
        print(f"FAILED: deployment {failure}")
    return 1 if failed else 0


def streaming_rate(deployment) -> float:
    """Lines per second between the first and the last batch of the command's output (each
    batch is stamped when it is stored)."""
    output = deployment.log_lines.exclude(stream="system").order_by("seq")
    first, last = output.first(), output.last()
    batch_seconds = (last.time - first.time).total_seconds()
    return (last.seq - first.seq) / max(batch_seconds, 1e-9)


def ceiling(environment, build, lines: int, batch: int) -> float:
    """Rows per second of the bare write path: the same rows, batching and transactions."""
    from django.db import connection, transaction
    from django.utils import timezone

    from pipelines.copy_batch import copy_batch
    from pipelines.logs import copy_rows
    from pipelines.models import Deployment, LogLine, Release, ReleaseCause

    release = Release.objects.create(
        environment=environment,
        version=(environment.releases.order_by("-version").first().version + 1)
        if environment.releases.exists()
        else 1,
        build=build,
        artifact=build.artifact,
        cause=ReleaseCause.MANUAL,
        description="bench ceiling",
    )
    target = Deployment.objects.create(environment=environment, release=release, status="succeeded")
    now = timezone.now()
    table = connection.ops.quote_name(LogLine._meta.db_table)
    columns = "deployment_id, seq, time, stream, text"
    if connection.vendor == "postgresql":
        blocks = [
            copy_rows(
                target.pk,
                first + 1,
                now,
                [("stdout", str(n)) for n in range(first + 1, min(first + batch, lines) + 1)],
            ).encode()
            for first in range(0, lines, batch)
        ]
        copy = f"COPY {table} ({columns}) FROM STDIN"
        connection.ensure_connection()
        started = time.perf_counter()
        for block in blocks:  # BEGIN; COPY; COMMIT in one round trip, as the runner's batches
            copy_batch(connection.connection, copy=copy, data=lambda block=block: block)
    else:
        time_text = connection.ops.adapt_datetimefield_value(now)
        rows = [(target.pk, n, time_text, "stdout", str(n)) for n in range(1, lines + 1)]
        insert = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)"
        started = time.perf_counter()
        for first in range(0, lines, batch):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(insert, rows[first : first + batch])
    took = time.perf_counter() - started
    target.delete()
    return lines / took


class start_redis:  # noqa: N801 (used like a function)
    """A redis-server of this run's own on a free port (no persistence)."""

    def __init__(self, scratch: Path) -> None:
        from bench.live_logs import free_port, wait_for_port

        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = open(scratch / "redis.log", "wb")  # noqa: SIM115 (open while it runs)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", ""],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


if __name__ == "__main__":
    sys.exit(main())
