"""Live deploy logs end to end, in production mode: PostgreSQL, daphne with channels-redis,
a Celery worker running the deployment, and real WebSocket clients.

    DATABASE_URL=postgres://…/slipway_bench .venv/bin/python bench/live_logs.py \
        [--lines 100000] [--clients 1,50] [--steady-seconds 10]
    .venv/bin/python bench/live_logs.py --sqlite      # a scratch SQLite database instead

A deployment (the `script` driver, run by a real Celery worker) prints --lines lines as fast
as it can while 1, then 50 WebSocket clients (the `websockets` library, signed in through a
session cookie, in separate processes) watch it: lines/s delivered to each client, lines
lost and duplicated. Raw Redis PUBLISH/SUBSCRIBE of the same lines, in the same batches, to
as many subscribers is the ceiling, measured in the same run before and after (the ratio is
to their mean: the machine's speed drifts within minutes). Then it prints 1,000 lines/s
for --steady-seconds: emit→receive latency p50/p95 (each line carries the time it was
printed). Goals: the slowest of 50 viewers ≥ 0.8 × raw Redis to 50 subscribers; 1 viewer
≥ 0.9 × what the runner stored per second (no viewer can get lines faster); p95 ≤ 250 ms;
0 lost, 0 duplicated.

Starts its own redis-server on a free port. Exits 1 when a goal is missed.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.live_clients import run_clients  # noqa: E402

GOAL_OF_REDIS = 0.8  # the slowest of many viewers, to raw Redis pub/sub to as many
GOAL_OF_STORED = 0.9  # one viewer, to what the runner stored per second
GOAL_P95_MS = 250
# The deployment's command. As fast as possible it prints in blocks of lines (one timestamp a
# block), so that the figure is Slipway's cost and not the command's: printed line by line it
# took a tenth of the machine while the viewers read.
EMITTER = """import sys, time
count, rate = int(sys.argv[1]), float(sys.argv[2])
start, BLOCK = time.time(), 500
if not rate:
    for first in range(1, count + 1, BLOCK):
        now = f"{time.time():.6f}"
        last = min(first + BLOCK, count + 1)
        sys.stdout.write("".join([f"{now} line {i}\\n" for i in range(first, last)]))
for i in range(count if rate else 0):
    delay = start + i / rate - time.time()
    if delay > 0:
        time.sleep(delay)
    sys.stdout.write(f"{time.time():.6f} line {i + 1}\\n")
    sys.stdout.flush()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--clients", default="1,50", help="comma-separated client counts")
    parser.add_argument("--steady-seconds", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=BASE_DIR / "var" / "bench-live")
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite database")
    args = parser.parse_args()
    if args.sqlite:
        os.environ.pop("DATABASE_URL", None)
    elif not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Production mode needs PostgreSQL: set DATABASE_URL, or pass --sqlite.")
        return 2
    client_counts = [int(n) for n in args.clients.split(",")]

    scratch = args.dir.resolve()
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with Services(scratch) as services:
        from django.db import connection

        from pipelines.runner.log_writer import MAX_BATCH

        name = connection.settings_dict["NAME"]
        print(f"database: {connection.vendor} ({name}), channels-redis,")
        print("a Celery worker (concurrency 1), daphne: all started for this run")
        bench = Bench(services, scratch)
        rows, ceilings = [], {}
        for clients in client_counts:
            # The ceiling before and after (the machine's speed drifts within minutes): the
            # ratio is to their mean, as in bench/deploy_log.py.
            def ceiling(clients=clients):
                return run_clients(
                    "redis", services.redis_url, clients, args.lines, batch=MAX_BATCH
                )

            before = ceiling()
            slipway = bench.deploy(args.lines, 0, clients)
            after = ceiling()
            ceilings[clients] = [before, after]
            rows += [
                ("raw redis, before", clients, before),
                ("slipway", clients, slipway),
                ("raw redis, after", clients, after),
            ]
        steady = bench.deploy(args.steady_seconds * 1000, 1000, 1)
    return report(args, rows, ceilings, steady)


class Services:
    """redis-server, daphne and a Celery worker in subprocesses, on one fresh database."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Services":
        redis_port, web_port = free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.web = f"127.0.0.1:{web_port}"
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "dashboard.settings",
                "DATABASE_URL": os.environ.get("DATABASE_URL")
                or f"sqlite:///{self.scratch / 'bench.sqlite3'}",
                "REDIS_URL": self.redis_url,
                "SLIPWAY_ARTIFACT_DIR": str(self.scratch / "artifacts"),
                "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
                "SLIPWAY_VAR_DIR": str(self.scratch),
            }
        )
        self.start("redis", "redis-server", "--port", str(redis_port), "--save", "")
        wait_for_port(redis_port)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        python = sys.executable
        self.start(
            "daphne",
            python,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(web_port),
            "dashboard.asgi:application",
        )
        self.start(
            "celery",
            python,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "-Q",
            "deploys,celery",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
        )
        wait_for_port(web_port)
        return self

    def start(self, name: str, *command: str) -> None:
        log = open(self.scratch / f"{name}.log", "wb")  # noqa: SIM115 (kept open while it runs)
        self.processes.append(
            subprocess.Popen(command, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT)
        )

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


class Bench:
    """Deployments of a `script` environment whose command prints the lines."""

    def __init__(self, services: Services, scratch: Path) -> None:
        from django.contrib.auth.models import Group, User
        from django.test import Client

        from pipelines.config import load_pipeline_text

        self.services, self.scratch = services, scratch
        (scratch / "emit.py").write_text(EMITTER)
        self.pipeline = load_pipeline_text(
            '[pipeline]\nname = "bench"\n\n[[environments]]\nname = "stage"\n'
            'driver = "script"\ndeploy_command = "true"\n',
            source="bench",
        )
        self.user = User.objects.get_or_create(username="bench")[0]  # the database is re-used
        self.user.groups.add(Group.objects.get_or_create(name="lead")[0])
        browser = Client()
        browser.force_login(self.user)
        self.cookie = f"sessionid={browser.cookies['sessionid'].value}"
        self.runs = 0

    def deploy(self, lines: int, rate: float, clients: int) -> dict:
        from django.db.models import Max, Min

        from pipelines.artifacts import store_artifact
        from pipelines.builds import attach_artifact, record_build
        from pipelines.deploys import request_deployment
        from pipelines.models import Deployment, ReleaseCause

        self.runs += 1
        go = self.scratch / f"go-{self.runs}"
        env = self.pipeline.environments.get(name="stage")
        env.driver_settings = {
            "deploy_command": f"while [ ! -e {go} ]; do sleep 0.01; done; "
            f"exec {sys.executable} {self.scratch / 'emit.py'} {lines} {rate}"
        }
        env.save()
        build, _ = record_build(
            self.pipeline, sha=uuid.uuid4().hex + f"{self.runs:08x}", status="passed"
        )
        attach_artifact(build, store_artifact([f"bench {self.runs}".encode()]))
        build.refresh_from_db()
        deployment = request_deployment(env, build, cause=ReleaseCause.MANUAL, by=self.user)
        url = f"ws://{self.services.web}/ws/deployments/{deployment.pk}/?after=0"
        target = (url, self.cookie, f"http://{self.services.web}")
        result = run_clients("slipway", target, clients, lines, start=go.touch)
        deployment = Deployment.objects.get(pk=deployment.pk)
        result["expected"] = deployment.last_seq  # the printed lines and the runner's notes
        result["status"] = deployment.status
        times = deployment.log_lines.filter(stream="stdout").aggregate(
            first=Min("time"), last=Max("time")
        )
        stored_for = (times["last"] - times["first"]).total_seconds() if times["first"] else 0
        result["stored_rate"] = lines / max(stored_for, 1e-9)
        result["lost"] = [deployment.last_seq - seen for seen in result["unique"]]
        return result


def report(args, rows, ceilings, steady) -> int:
    print(f"\n{args.lines:,} lines printed as fast as possible, per client (min / median):")
    print(f"{'':20} {'clients':>7} {'lines/s min':>12} {'median':>10} {'lost':>6} {'dup':>6}")
    failed = False
    for name, clients, result in rows:
        rates = sorted(result["rates"])
        lost, dup = max(result["lost"]), max(result["duplicates"])
        print(
            f"{name:20} {clients:>7} {rates[0]:>12,.0f} {rates[len(rates) // 2]:>10,.0f}"
            f" {lost:>6} {dup:>6}"
        )
        if name == "slipway":
            print(f"{'  (stored by the runner':20} {'':>7} {result['stored_rate']:>12,.0f})")
            failed |= bool(lost or dup) | not_closed_as_finished(result)
            if result["status"] != "succeeded":
                print(f"  the deployment {result['status']} (see {args.dir}/celery.log)")
                failed = True
    for name, clients, result in rows:
        if name != "slipway":
            continue
        slowest = sorted(result["rates"])[0]
        ceiling = statistics.mean(min(c["rates"]) for c in ceilings[clients])
        of_redis = slowest / ceiling
        of_stored = slowest / result["stored_rate"]
        cpu = result["cpu_per_line"] * 1e6
        redis_cpu = statistics.mean(c["cpu_per_line"] for c in ceilings[clients]) * 1e6
        print(
            f"{clients} viewer(s): slowest / raw redis (mean of before and after) {of_redis:.2f}"
            f"{f' (goal ≥ {GOAL_OF_REDIS})' if clients > 1 else ''}; "
            f"/ stored by the runner {of_stored:.2f}"
            f"{f' (goal ≥ {GOAL_OF_STORED})' if clients == 1 else ''}"
        )
        print(
            f"  (their CPU per line received: {cpu:.2f} µs; raw redis' subscribers {redis_cpu:.2f})"
        )
        if clients > 1:
            failed |= of_redis < GOAL_OF_REDIS
        else:
            failed |= of_stored < GOAL_OF_STORED
    latencies = sorted(steady["latencies"])
    p50, p95 = (latencies[int(len(latencies) * q)] * 1000 for q in (0.5, 0.95))
    print(
        f"emit→receive latency at 1,000 lines/s ({args.steady_seconds} s, 1 client): "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (goal p95 <= {GOAL_P95_MS} ms); "
        f"lost {max(steady['lost'])}, duplicated {max(steady['duplicates'])}"
    )
    failed |= not_closed_as_finished(steady)
    failed |= p95 > GOAL_P95_MS or max(steady["lost"]) or max(steady["duplicates"])
    print("goals met" if not failed else "GOALS MISSED")
    return 1 if failed else 0


def not_closed_as_finished(result: dict) -> bool:
    """Say how sockets closed other than with 1000 (the deployment ended) and how often the
    clients reconnected, as the page does; True when a client did not end with 1000."""
    others = Counter(code for closes in result["closes"] for code in closes if code != 1000)
    reconnects = sum(len(closes) - 1 for closes in result["closes"])
    if others or reconnects:
        codes = ", ".join(f"{code} × {n}" for code, n in others.items())
        print(f"  reconnects: {reconnects}; other closes: {codes or 'none'}")
    return any(not closes or closes[-1] != 1000 for closes in result["closes"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


if __name__ == "__main__":
    sys.exit(main())
