"""Checking a pipeline.toml into a PipelineConfig, naming file, line, environment and field.

This module reads the file and its `[pipeline]` table; each part of the file has a module of
its own, called with the checker (a `Reader`: config/reader.py): environments.py (the
`[[environments]]` tables, their promotions, variables and probe), drivers.py (a driver's
settings) and blue_green.py (its strategy), checklist.py, flags.py, notifications.py,
freezes.py, branches.py (per-branch templates) and release_steps.py.
"""

import tomllib
from typing import Any

from pipelines.config.environments import check_environments
from pipelines.config.freezes import check_freezes
from pipelines.config.lines import split_toml_error
from pipelines.config.notifications import check_notifications
from pipelines.config.reader import Reader, Where
from pipelines.config.schema import PIPELINE_KEYS, ROOT_KEYS, PipelineConfig
from pipelines.errors import ConfigError


class Checker(Reader):
    """Turns TOML text into a PipelineConfig, or raises ConfigError on the first problem."""

    def pipeline_config(self) -> PipelineConfig:
        data = self.decode()
        root = Where()
        self.reject_unknown(root, data, ROOT_KEYS, what="top-level key")
        pipeline = data.get("pipeline")
        if not isinstance(pipeline, dict):
            self.fail(
                root, "a [pipeline] table with the pipeline's name is required", key="pipeline"
            )
        where = Where(section=("pipeline",), label="[pipeline]")
        self.reject_unknown(where, pipeline, PIPELINE_KEYS)
        name = self.slug(where, pipeline, "name")
        repository_url = self.url(where, pipeline, "repository_url")
        environments = check_environments(self, data.get("environments"))
        return PipelineConfig(
            source=self.source,
            name=name,
            repository_url=repository_url,
            environments=environments,
            notifications=check_notifications(self, pipeline.get("notifications", [])),
            public_badges=self.boolean(where, pipeline, "public_badges"),
            freezes=check_freezes(
                self, pipeline.get("freezes", []), [env.name for env in environments]
            ),
        )

    def decode(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            problem, line = split_toml_error(str(exc), self.text)
            place = f"{self.source}, line {line}" if line else self.source
            raise ConfigError(
                f"{place}: not valid TOML: {problem}", source=self.source, line=line
            ) from exc
