"""Django's deployment checks, with the production settings README.md shows (`make check-deploy`).

The settings are read from the README's "Going to production" block, so the documented
setup is the one checked: `python manage.py check --deploy --fail-level WARNING`.
"""

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_production_env() -> dict[str, str]:
    """The variables the README's production block exports (`…` replaced by real values)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Going to production") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    env = {}
    for line in block.splitlines():
        if line.startswith("export "):
            for word in shlex.split(line.removeprefix("export "), comments=True):
                name, _, value = word.partition("=")
                env[name] = value
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def check_deploy(env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Only the README's settings, or `env` (and PATH): nothing of the caller's environment
    leaks in."""
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            **(readme_production_env() if env is None else env),
        },
        capture_output=True,
        text=True,
    )


if __name__ == "__main__":
    result = check_deploy()
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    sys.exit(result.returncode)
