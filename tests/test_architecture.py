"""The layers of docs/architecture.md are enforced: import-linter's contracts (pyproject.toml)
pass on the code, and fail on a copy of it broken on purpose, once per contract."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def broken_copy(tmp_path: Path, module: str, bad_import: str) -> Path:
    """The repository's packages and contracts, with `bad_import` added to `module`."""
    for package in ("pipelines", "dashboard"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{bad_import}\n")
    return tmp_path


def test_the_code_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# Not in a layer on purpose: Django's wiring of the app (its signal receivers, apps.py) and
# the schema's history (migrations).
UNLAYERED = {"apps", "migrations"}


def test_every_module_of_the_domain_sits_in_a_layer():
    """A module in no layer is checked by no layer: it could import anything, and anything
    could import it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = (c for c in config["contracts"] if c["id"] == "layers")
    layered = {name.strip() for layer in layers["layers"] for name in layer.split(":")}
    modules = {
        path.stem if path.is_file() else path.name
        for path in (ROOT / "pipelines").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }
    assert {m for m in modules - UNLAYERED if f"pipelines.{m}" not in layered} == set()


@pytest.mark.parametrize(
    "module, bad_import, contract",
    [
        (
            "pipelines.models.deployments",
            "from dashboard import deployment_status  # noqa",
            "The domain (pipelines) never imports the web app (dashboard) BROKEN",
        ),
        (
            "pipelines.runner.run",
            "from pipelines.auto_deploys import deploy_waiting_build  # noqa",
            "Entry points → use-cases → runner and drivers → models, never upwards BROKEN",
        ),
        (
            "pipelines.models.builds",
            "from pipelines.audit import record  # noqa",
            "Entry points → use-cases → runner and drivers → models, never upwards BROKEN",
        ),
        (
            "pipelines.statuses",
            "from pipelines.models import Deployment  # noqa",
            "Entry points → use-cases → runner and drivers → models, never upwards BROKEN",
        ),
        (
            "pipelines.numbers",
            "from pipelines.errors import InvalidInput  # noqa",
            "No import cycles between the modules of a package BROKEN",
        ),
    ],
    ids=[
        "domain-imports-web",
        "runner-imports-use-case",
        "models-import-audit",
        "plain-value-imports-models",
        "cycle",
    ],
)
def test_a_forbidden_import_breaks_the_build(tmp_path, module, bad_import, contract):
    if module == "pipelines.numbers":  # a cycle needs both directions
        errors = tmp_path / "pipelines" / "errors.py"
        root = broken_copy(tmp_path, module, bad_import)
        errors.write_text(errors.read_text() + "\nfrom pipelines import numbers  # noqa\n")
    else:
        root = broken_copy(tmp_path, module, bad_import)
    result = lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert contract in result.stdout
