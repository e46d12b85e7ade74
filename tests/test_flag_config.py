"""Feature flags declared in pipeline.toml: loaded, checked with file/line/field, and a
reload keeps what the flags page changed unless the file itself changed."""

import pytest

from pipelines.config import load_pipeline_text
from pipelines.errors import ConfigError
from pipelines.flags import checked_rules, update_flag
from pipelines.models import AuditEvent, FeatureFlag
from tests.conftest import EXAMPLE_TOML, make_user

FLAGS = """
[[environments.flags]]
key = "gift-cards"
description = "Gift cards at checkout"
groups = ["qa"]

[[environments.flags]]
key = "new-search"
default = false
users = ["ann", "bob"]
percentage = 25
"""


def with_flags(flags: str = FLAGS) -> str:
    return EXAMPLE_TOML + flags  # the last environment is "live"


@pytest.mark.django_db
def test_flags_declared_in_the_file_are_created_on_their_environment():
    pipeline = load_pipeline_text(with_flags(), source="pipeline.toml")
    live = pipeline.environments.get(name="live")
    gift = live.flags.get(key="gift-cards")
    assert (gift.description, gift.groups, gift.default, gift.percentage) == (
        "Gift cards at checkout",
        ["qa"],
        False,
        0,
    )
    assert live.flags.get(key="new-search").users == ["ann", "bob"]
    created = AuditEvent.objects.filter(action="flag_created", environment=live)
    assert sorted(e.data["flag"] for e in created) == ["gift-cards", "new-search"]


@pytest.mark.django_db
def test_reloading_the_same_file_keeps_what_the_page_changed():
    pipeline = load_pipeline_text(with_flags(), source="pipeline.toml")
    flag = FeatureFlag.objects.get(key="gift-cards")
    lead = make_user("lena", "lead")
    update_flag(flag, checked_rules(groups=["qa", "sales"]), by=lead)

    load_pipeline_text(with_flags(), source="pipeline.toml")

    assert FeatureFlag.objects.get(key="gift-cards").groups == ["qa", "sales"]
    assert pipeline.environments.get(name="live").flags.count() == 2


@pytest.mark.django_db
def test_a_changed_declaration_in_the_file_wins_and_is_audited():
    load_pipeline_text(with_flags(), source="pipeline.toml")
    load_pipeline_text(with_flags(FLAGS.replace("percentage = 25", "percentage = 50")), "v2.toml")
    assert FeatureFlag.objects.get(key="new-search").percentage == 50
    event = AuditEvent.objects.filter(action="flag_changed").get()
    assert event.data["before"]["percentage"] == 25 and event.data["after"]["percentage"] == 50
    assert "from v2.toml" in event.message and event.actor is None


BAD_FLAGS = {
    "percentage above 100": ("percentage = 25", "percentage = 101", "percentage", 43),
    "percentage as a string": ("percentage = 25", 'percentage = "25"', "percentage", 43),
    "groups not a list": ('groups = ["qa"]', 'groups = "qa"', "groups", 37),
    "users with a number": ('users = ["ann", "bob"]', 'users = ["ann", 7]', "users", 42),
    "key with a space": ('key = "new-search"', 'key = "new search"', "key", 40),
    "default not a boolean": ("default = false", 'default = "no"', "default", 41),
    "unknown field": ("percentage = 25", "percent = 25", "percent", 43),
    "duplicate key": ('key = "new-search"', 'key = "gift-cards"', "key", 40),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_FLAGS, ids=list(BAD_FLAGS))
def test_a_bad_flag_is_refused_naming_file_line_and_field_and_changes_nothing(case):
    old, new, field, line = BAD_FLAGS[case]
    text = with_flags(FLAGS.replace(old, new))
    with pytest.raises(ConfigError) as refused:
        load_pipeline_text(text, source="pipeline.toml")
    error = refused.value
    assert (error.details["field"], error.details["line"]) == (field, line), error.message
    assert error.message.startswith(f'pipeline.toml, line {line}: environment "live"')
    assert text.splitlines()[line - 1].lstrip().startswith(field)
    assert not FeatureFlag.objects.exists()


@pytest.mark.django_db
def test_flags_written_as_a_single_table_are_refused():
    text = EXAMPLE_TOML + '\n[environments.flags]\nkey = "x"\n'
    with pytest.raises(ConfigError, match=r"flags must be tables written as \[\[environments"):
        load_pipeline_text(text, source="pipeline.toml")


@pytest.mark.django_db
def test_the_load_summary_names_the_flags_it_created_and_changed():
    from pipelines.config import apply_pipeline, parse_pipeline_text

    report = apply_pipeline(parse_pipeline_text(with_flags(), "pipeline.toml"))
    assert report.summary().endswith(
        "; flags 2 created (live/gift-cards, live/new-search), 0 updated"
    )
    again = apply_pipeline(parse_pipeline_text(with_flags(), "pipeline.toml"))
    assert "flags" not in again.summary() and again.outcome == "unchanged"
