"""Feature flags read through the real OpenFeature SDK and its OFREP provider, from a real
daphne: users, groups, percentage rollout, defaults; the bulk endpoint's ETag; the key."""

import uuid

import pytest
import requests
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode

from pipelines.flag_keys import create_flag_key, revoke_flag_key
from pipelines.flags import checked_rules, create_flag, in_rollout, update_flag
from pipelines.models import FeatureFlag
from tests.live import bearer


@pytest.fixture
def live(pipeline):
    env = pipeline.environments.get(name="live")
    create_flag(env, "gift-cards", checked_rules(groups=["qa"]), by=None)
    create_flag(env, "new-search", checked_rules(users=["ann", "bob"]), by=None)
    create_flag(env, "dark-mode", checked_rules(percentage=30), by=None)
    create_flag(env, "free-shipping", checked_rules(default=True), by=None)
    return env


@pytest.fixture
def flag_key(live):
    return create_flag_key(live, name="webshop servers")[1]


@pytest.fixture
def flags(slipway_server, flag_key):
    """An OpenFeature client reading live's flags from the running server."""
    domain = f"slipway-{uuid.uuid4().hex}"
    api.set_provider(
        OFREPProvider(slipway_server.url, headers_factory=lambda: bearer(flag_key)), domain
    )
    yield api.get_client(domain)
    api.clear_providers()


def who(key: str | None = None, *groups: str) -> EvaluationContext:
    return EvaluationContext(targeting_key=key, attributes={"groups": list(groups)})


def test_a_flag_is_on_for_its_users_and_off_for_everyone_else(flags):
    ann = flags.get_boolean_details("new-search", False, who("ann"))
    carl = flags.get_boolean_details("new-search", True, who("carl"))
    assert (ann.value, ann.reason, ann.variant) == (True, "TARGETING_MATCH", "on")
    assert (carl.value, carl.reason, carl.variant) == (False, "DEFAULT", "off")
    assert carl.error_code is None


def test_a_flag_is_on_for_its_groups_and_off_for_other_groups(flags):
    assert flags.get_boolean_value("gift-cards", False, who("quinn", "staff", "qa")) is True
    assert flags.get_boolean_value("gift-cards", True, who("sam", "sales")) is False
    assert flags.get_boolean_value("gift-cards", True, who("anonymous")) is False


def test_a_percentage_rollout_gives_each_user_the_same_answer_every_time(flags, live):
    keys = [f"user-{n}" for n in range(200)]
    first = [flags.get_boolean_value("dark-mode", False, who(key)) for key in keys]
    again = [flags.get_boolean_value("dark-mode", False, who(key)) for key in keys]
    assert first == again
    assert 0.18 < sum(first) / len(keys) < 0.42  # 30 % of 200, give or take 3 deviations
    reasons = {flags.get_boolean_details("dark-mode", False, who(k)).reason for k in keys[:40]}
    assert reasons == {"SPLIT", "DEFAULT"}

    flag = FeatureFlag.objects.get(environment=live, key="dark-mode")
    update_flag(flag, checked_rules(percentage=60), by=None)
    widened = [flags.get_boolean_value("dark-mode", False, who(key)) for key in keys]
    assert all(widened[n] for n, was_on in enumerate(first) if was_on)  # nobody loses it
    assert sum(widened) > sum(first)
    # Independent of the flag: another flag's 30 % is other users.
    other = FeatureFlag(key="other-flag", percentage=30)
    assert [in_rollout(other, key) for key in keys] != first


def test_without_rules_a_flag_is_its_default_and_an_unknown_flag_is_the_code_default(flags):
    free = flags.get_boolean_details("free-shipping", False, who("ann"))
    assert (free.value, free.reason) == (True, "STATIC")
    missing = flags.get_boolean_details("no-such-flag", True, who("ann"))
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)


def test_a_revoked_key_reads_nothing(flags, live, flag_key):
    assert flags.get_boolean_value("new-search", False, who("ann")) is True
    revoke_flag_key(live.flag_keys.get())
    refused = flags.get_boolean_details("new-search", False, who("ann"))
    assert (refused.value, refused.error_code) == (False, ErrorCode.GENERAL)
    assert "unauthorized" in refused.error_message


def test_a_key_reads_only_its_own_environments_flags(slipway_server, live, pipeline):
    uat = pipeline.environments.get(name="uat")
    uat_key = create_flag_key(uat)[1]
    response = requests.post(
        f"{slipway_server.url}/ofrep/v1/evaluate/flags/gift-cards",
        json={"context": {"targetingKey": "ann", "groups": ["qa"]}},
        headers=bearer(uat_key),
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json() == {
        "key": "gift-cards",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "uat has no flag 'gift-cards'.",
    }


def bulk(server, key, context, etag=None):
    headers = bearer(key) | ({"If-None-Match": etag} if etag else {})
    return requests.post(
        f"{server.url}/ofrep/v1/evaluate/flags",
        json={"context": context},
        headers=headers,
        timeout=10,
    )


def test_the_bulk_endpoint_answers_304_until_a_flag_changes(slipway_server, flag_key, live):
    qa = {"targetingKey": "quinn", "groups": ["qa"]}
    first = bulk(slipway_server, flag_key, qa)
    assert first.status_code == 200
    values = {flag["key"]: flag["value"] for flag in first.json()["flags"]}
    assert values == {
        "dark-mode": in_rollout(FeatureFlag(key="dark-mode", percentage=30), "quinn"),
        "free-shipping": True,
        "gift-cards": True,
        "new-search": False,
    }
    etag = first.headers["ETag"]

    unchanged = bulk(slipway_server, flag_key, qa, etag)
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["ETag"] == etag
    other_user = bulk(slipway_server, flag_key, {"targetingKey": "ann"}, etag)
    assert other_user.status_code == 200  # the answer depends on the context too

    gift_cards = live.flags.get(key="gift-cards")
    update_flag(gift_cards, checked_rules(groups=["qa"], description="now described"), by=None)
    assert bulk(slipway_server, flag_key, qa, etag).status_code == 304  # same answers
    update_flag(gift_cards, checked_rules(groups=[]), by=None)
    changed = bulk(slipway_server, flag_key, qa, etag)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert {f["key"]: f["value"] for f in changed.json()["flags"]}["gift-cards"] is False


HOSTILE = {
    "not JSON": (b"{nope", 400, "PARSE_ERROR"),
    "context not an object": (b'{"context": [1]}', 400, "INVALID_CONTEXT"),
    "groups not a list": (b'{"context": {"groups": "qa"}}', 400, "INVALID_CONTEXT"),
    "targetingKey a number": (b'{"context": {"targetingKey": 7}}', 400, "INVALID_CONTEXT"),
    "too many groups": (
        b'{"context": {"groups": [' + b",".join([b'"g"'] * 101) + b"]}}",
        400,
        "INVALID_CONTEXT",
    ),
    "NUL in a string": (b'{"context": {"targetingKey": "a\\u0000"}}', 400, "INVALID_CONTEXT"),
    "unknown field": (b'{"context": {}, "flags": ["x"]}', 400, "INVALID_CONTEXT"),
    "too deep": (b'{"context": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "PARSE_ERROR"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_body_gets_an_ofrep_error_not_a_500(slipway_server, flag_key, case):
    body, status, code = HOSTILE[case]
    for path in ("flags/gift-cards", "flags"):
        response = requests.post(
            f"{slipway_server.url}/ofrep/v1/evaluate/{path}",
            data=body,
            headers=bearer(flag_key) | {"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == status, response.text
        assert response.json()["errorCode"] == code


def test_a_body_over_the_limit_is_refused(slipway_server, flag_key):
    body = b'{"context": {"targetingKey": "' + b"a" * (3 * 1024 * 1024) + b'"}}'
    response = requests.post(
        f"{slipway_server.url}/ofrep/v1/evaluate/flags",
        data=body,
        headers=bearer(flag_key) | {"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413


def test_without_a_valid_key_nothing_is_evaluated(slipway_server, token_for, live):
    url = f"{slipway_server.url}/ofrep/v1/evaluate/flags/gift-cards"
    for headers in ({}, bearer("slf_guess"), bearer(token_for("lead")), {"Authorization": "x"}):
        response = requests.post(url, json={}, headers=headers, timeout=10)
        assert response.status_code == 401, headers
        assert "errorDetails" in response.json()
    assert requests.get(url, headers=bearer("x"), timeout=10).status_code == 405
