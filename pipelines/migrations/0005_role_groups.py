"""The five role groups exist from the start: people are put in them, never create them."""

from django.db import migrations

ROLES = ("lead", "developer", "sales", "support", "qa")


def create_role_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("pipelines", "0004_artifact_heroku_slug_id"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
