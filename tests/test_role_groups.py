import pytest
from django.contrib.auth.models import Group

from pipelines.roles import Role


@pytest.mark.django_db
def test_migrating_creates_a_group_for_every_role():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)
