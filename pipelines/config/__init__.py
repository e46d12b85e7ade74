"""Loading a pipeline.toml (its fields: README.md, "Describing a pipeline").

Two steps: `parse_pipeline_text` checks the whole file into plain dataclasses, raising
ConfigError (naming file, line, environment and field) on the first problem; then
`apply_pipeline` writes it in one transaction. So a bad file changes nothing.

Loading never deletes: environments and checklist items left out of the file carry history
(releases, signoffs), so they are kept and reported in `LoadReport.warnings()`.
"""

from pathlib import Path

from pipelines.config.apply import LoadReport, apply_pipeline, load_config
from pipelines.config.checker import Checker
from pipelines.config.schema import ChecklistItemConfig, EnvironmentConfig, PipelineConfig
from pipelines.durations import parse_duration
from pipelines.errors import ConfigError
from pipelines.models import Pipeline

__all__ = [
    "ChecklistItemConfig",
    "EnvironmentConfig",
    "LoadReport",
    "PipelineConfig",
    "apply_pipeline",
    "load_pipeline_file",
    "load_pipeline_text",
    "parse_duration",
    "parse_pipeline_text",
    "read_pipeline_file",
]


def load_pipeline_file(path: str | Path) -> Pipeline:
    """Create or update the pipeline a pipeline.toml describes; raise ConfigError if it is bad."""
    return load_config(read_pipeline_file(path))


def load_pipeline_text(text: str, source: str = "<string>") -> Pipeline:
    """Like `load_pipeline_file`, from text; `source` names it in error messages."""
    return load_config(parse_pipeline_text(text, source))


def read_pipeline_file(path: str | Path) -> PipelineConfig:
    """Read and check a pipeline.toml without touching the database."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: the file is not UTF-8 text", source=source) from exc
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read it: {exc.strerror}", source=source) from exc
    return parse_pipeline_text(text, source)


def parse_pipeline_text(text: str, source: str = "<string>") -> PipelineConfig:
    """Check a whole pipeline.toml without touching the database."""
    return Checker(text, source).pipeline_config()
