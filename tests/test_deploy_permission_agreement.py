"""One rule for who may deploy by hand: for every role and every kind of environment, the
environment page offers Deploy exactly when the REST API accepts the deploy."""

import pytest
from django.test import Client
from django.utils import timezone

from pipelines.models import ChecklistItem
from pipelines.roles import Role
from tests.deploying import artifact_build
from tests.live import bearer

pytestmark = pytest.mark.django_db

# dev has no checklist; live has one; uat gets one whose items were all retired (dropped
# from pipeline.toml): it guards nothing any more.
ENVIRONMENTS = ["dev", "live", "uat-with-retired-checklist"]


def retire_a_checklist_on_uat(pipeline) -> None:
    uat = pipeline.environments.get(name="uat")
    ChecklistItem.objects.create(
        environment=uat, key="gone", label="Gone", role=Role.QA, retired_at=timezone.now()
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("role", [role.value for role in Role])
def test_the_page_offers_deploy_exactly_when_the_api_allows_it(
    pipeline, client_for, token_for, role, environment
):
    retire_a_checklist_on_uat(pipeline)
    name = environment.split("-")[0]
    build = artifact_build(pipeline, b"one")

    page = client_for(role).get(f"/pipelines/webshop/environments/{name}/")
    api = Client(headers=bearer(token_for(role))).post(
        f"/api/v1/pipelines/webshop/environments/{name}/deployments",
        {"sha": build.sha, "reason": "hotfix"},  # a lead's deploy to live is break-glass
        content_type="application/json",
    )

    assert page.status_code == 200
    assert api.status_code in (202, 403), api.content
    offered = 'data-action="deploy"' in page.content.decode()
    assert offered == (api.status_code == 202)
    # And what the rule says: leads anywhere, developers where no active checklist guards.
    assert offered == (role == "lead" or (role == "developer" and name != "live"))
