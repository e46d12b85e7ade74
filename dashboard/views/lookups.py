"""Finding what a URL names, or 404."""

from django.shortcuts import get_object_or_404

from pipelines.models import Environment


def environment_or_404(pipeline: str, environment: str, **annotations) -> Environment:
    """The environment `environment` of the pipeline named `pipeline`, with what the views
    read of it (its pipeline, upstream, current release and its build) loaded along."""
    return get_object_or_404(
        Environment.objects.select_related(
            "pipeline", "promote_from", "current_release__build"
        ).annotate(**annotations),
        pipeline__name=pipeline,
        name=environment,
    )
