"""Fuzz the REST API with schemathesis against a real daphne, as `make fuzz` does.

    .venv/bin/python scripts/fuzz_api.py --schemathesis .venv-fuzz/bin/schemathesis [-n 100]

Starts daphne on its own SQLite database in var/fuzz with a pipeline that deploys nothing
(its environments have no driver), a build with an artifact and a lead's token, then runs
schemathesis twice: once generating every path parameter, once with the pipeline and the
build's sha fixed so that the generated bodies reach past the 404s. Every check runs but
positive_data_acceptance, which counts each documented refusal of well-typed data (an
unknown environment, a digest that does not match, a lock) as a failure. Exits non-zero
when schemathesis finds anything.
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

SHA = "5d41402abc4b2a76b9719d911017c592ae3a1b2c"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemathesis", required=True, help="the schemathesis command")
    parser.add_argument("-n", "--max-examples", type=int, default=100, help="per operation")
    args = parser.parse_args()
    schemathesis = shutil.which(args.schemathesis)
    if schemathesis is None:
        parser.error(f"{args.schemathesis} is not a command (make fuzz installs it)")
    schemathesis = os.path.abspath(schemathesis)  # it runs in the scratch directory

    scratch = BASE_DIR / "var" / "fuzz"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    database_url = f"sqlite:///{scratch / 'fuzz.sqlite3'}"
    os.environ["DATABASE_URL"] = database_url
    os.environ["SLIPWAY_ARTIFACT_DIR"] = str(scratch / "artifacts")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    # DATABASE_URL makes it production mode, which needs a key: this one is for here only.
    os.environ.setdefault("SECRET_KEY", "slipway-bench-only-not-a-secret-" + "x" * 32)
    token = prepare_database()

    from tests.live import run_server

    fixed = scratch / "fixed-parameters.toml"
    fixed.write_text(f'[parameters]\n"path.pipeline" = "webshop"\n"path.sha" = "{SHA}"\n')
    env = {"DATABASE_URL": database_url, "SLIPWAY_MAX_ARTIFACT_BYTES": str(1024 * 1024)}
    with run_server(scratch / "artifacts", env=env) as server:
        run = [
            *("run", f"{server.url}/api/v1/openapi.json", "--url", server.url),
            *("-H", f"Authorization: Bearer {token}", "--checks", "all"),
            *("--exclude-checks", "positive_data_acceptance"),
            *("--max-examples", str(args.max_examples)),
        ]
        every_parameter = subprocess.run([schemathesis, *run], cwd=scratch)
        fixed_parameters = subprocess.run(
            [schemathesis, "--config-file", str(fixed), *run], cwd=scratch
        )
        server_errors = [line for line in server.log().splitlines() if '" 500 ' in line]
    if server_errors:
        print(f"daphne answered 500 {len(server_errors)} times:", *server_errors[:5], sep="\n")
    failed = every_parameter.returncode or fixed_parameters.returncode or server_errors
    print("fuzzing found problems" if failed else "fuzzing found nothing")
    return 1 if failed else 0


def prepare_database() -> str:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from pipelines.artifacts import store_artifact
    from pipelines.builds import attach_artifact, record_build
    from pipelines.config import load_pipeline_text
    from pipelines.tokens import create_token
    from tests.conftest import EXAMPLE_TOML  # the tests' webshop: no drivers, a checklist

    call_command("migrate", verbosity=0)
    pipeline = load_pipeline_text(EXAMPLE_TOML, source="fuzz")
    build, _ = record_build(pipeline, sha=SHA, status="passed", branch="master")
    attach_artifact(build, store_artifact([b"fuzz build"]))
    lead = User.objects.create_user("lead")
    lead.groups.add(Group.objects.get_or_create(name="lead")[0])
    return create_token(lead, name="fuzz")[1]


if __name__ == "__main__":
    sys.exit(main())
