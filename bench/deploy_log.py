"""How fast the runner stores and publishes a chatty deployment's output.

    .venv/bin/python bench/deploy_log.py [--lines 200000] [--dir var/bench-deploy]

Runs a script-driver deployment whose command prints --lines lines, with the real runner
(rows stored first, published after commit in batches) on its own SQLite database (or
DATABASE_URL), and prints lines per second and how many channel-layer messages carried them.
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=BASE_DIR / "var" / "bench-deploy")
    args = parser.parse_args()

    scratch = args.dir.resolve()
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    os.environ["SLIPWAY_ARTIFACT_DIR"] = str(scratch / "artifacts")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import pipelines.live
    import pipelines.runner.log_writer as log_writer
    from pipelines.artifacts import store_artifact
    from pipelines.builds import attach_artifact, record_build
    from pipelines.config import load_pipeline_text
    from pipelines.deploys import request_deployment

    messages = []
    original = pipelines.live.publish_log

    def counting_publish(deployment_id, rows):
        messages.append(len(rows))
        original(deployment_id, rows)

    log_writer.publish_log = counting_publish

    pipeline = load_pipeline_text(
        '[pipeline]\nname = "bench"\n[[environments]]\nname = "dev"\ndriver = "script"\n'
        f'deploy_command = "seq 1 {args.lines}"\n'
    )
    build, _ = record_build(pipeline, sha="ab" * 20, status="passed", branch="topic")
    attach_artifact(build, store_artifact([b"bench"]))
    build.refresh_from_db()
    started = time.perf_counter()
    # Outside a server, the request runs the deployment itself, as `load_demo` does.
    deployment = request_deployment(pipeline.environments.get(), build, cause="manual")
    took = time.perf_counter() - started

    deployment.refresh_from_db()
    stored = deployment.log_lines.count()
    print(f"status: {deployment.status}; {stored:,} lines stored in {took:.2f} s")
    print(f"throughput: {stored / took:,.0f} lines/s")
    print(
        f"published in {len(messages):,} messages "
        f"(mean {sum(messages) / max(len(messages), 1):,.0f} lines, max {max(messages)})"
    )
    return 0 if deployment.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
