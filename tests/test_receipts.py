"""Signed promotion receipts: who approved exactly these bytes, checkable outside Slipway."""

import copy
import hashlib
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client, TestCase

from pipelines import receipts, signing
from pipelines.cli import main as slipway_main
from pipelines.models import Deployment, Promotion
from pipelines.promotion import promote
from tests.live import bearer
from tests.promoting import env, sign_everything, uat_runs_a_new_build
from tests.test_deployment_page import streamed
from tests.test_promote import promote_live

pytestmark = pytest.mark.django_db

PUBLIC_KEY = "/api/v1/receipts/public-key"


@pytest.fixture(autouse=True)
def own_key(settings, tmp_path):
    """Each test signs with a key of its own, made in its own var/."""
    settings.SLIPWAY_RECEIPT_KEY = ""
    settings.SLIPWAY_RECEIPT_KEY_FILE = str(tmp_path / "var" / "receipt-key.pem")
    receipts.signing_key.cache_clear()
    yield
    receipts.signing_key.cache_clear()


@pytest.fixture
def api_as(token_for):
    return lambda role: Client(headers=bearer(token_for(role)))


@pytest.fixture
def promoted(pipeline, users) -> Promotion:
    uat_runs_a_new_build(pipeline, tests={"passed": 41, "failed": 0, "skipped": 2})
    sign_everything(pipeline, users)
    deployment = promote_live(pipeline, users["lead"])
    assert deployment.status == "succeeded"
    return Promotion.objects.get(deployment=deployment)


def receipt_of(promotion: Promotion, client: Client) -> dict:
    response = client.get(f"/api/v1/promotions/{promotion.pk}/receipt")
    assert response.status_code == 200, response.content
    return response.json()


def public_key(client: Client):
    return signing.load_public_key(json.dumps(client.get(PUBLIC_KEY).json()))


def leaves(value, path=()):
    """Every (path, value) of a JSON document's scalars."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def altered(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    return value[:-1] + ("0" if value[-1:] != "0" else "1") if value else "x"


def test_the_promotion_answer_carries_its_id_and_receipt_url(pipeline, users, api_as):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api_as("lead").post(
            "/api/v1/pipelines/webshop/promotions",
            {"from": "uat", "to": "live"},
            content_type="application/json",
        )
    assert response.status_code == 202
    promotion = Promotion.objects.get()
    answer = response.json()["promotion"]
    assert answer["id"] == promotion.pk
    assert answer["receipt_url"] == f"/api/v1/promotions/{promotion.pk}/receipt"
    assert answer["url"] == f"/promotions/{promotion.pk}/"


def test_the_receipt_says_who_approved_exactly_which_bytes(promoted, api_as, client_for):
    signed = receipt_of(promoted, api_as("qa"))
    receipt = signed["receipt"]
    build = promoted.deployment.release.build
    assert receipt["pipeline"] == "webshop"
    assert (receipt["source"], receipt["target"]) == ("uat", "live")
    assert receipt["artifact"] == {
        "digest": promoted.artifact.digest,
        "size": promoted.artifact.size,
    }
    assert receipt["build"]["sha"] == build.sha
    assert receipt["build"]["tests"] == {"passed": 41, "failed": 0, "skipped": 2}
    assert receipt["build"]["coverage"] == "91.50"
    assert {(s["item"], s["role"], s["signed_by"], s["digest"]) for s in receipt["signoffs"]} == {
        ("not-mid-demo", "sales", "sales", promoted.artifact.digest),
        ("not-serving-a-customer", "support", "support", promoted.artifact.digest),
        ("smoke-tested", "qa", "qa", promoted.artifact.digest),
    }
    assert all(s["signed_at"] for s in receipt["signoffs"])
    assert receipt["promoted_by"] == "lead"
    assert receipt["deployment"]["status"] == "succeeded"
    assert receipt["deployment"]["release"] == "v1"
    raw_log = streamed(client_for("qa").get(f"/deployments/{promoted.deployment_id}/log.txt"))
    assert receipt["deployment"]["log_sha256"] == hashlib.sha256(raw_log).hexdigest()
    assert receipt["deployment"]["log_lines"] == raw_log.count(b"\n") > 0
    last_event = promoted.source.pipeline.audit_events.order_by("-seq").first()
    assert receipt["audit"] == {"seq": last_event.seq, "hash": last_event.hash}
    assert signing.verify(signed, public_key(api_as("qa"))) == receipt


def test_a_receipt_verifies_and_each_altered_field_is_refused(promoted, api_as):
    signed = receipt_of(promoted, api_as("lead"))
    key = public_key(api_as("lead"))
    signing.verify(signed, key)
    paths = list(leaves(signed))
    assert len(paths) > 30
    for path, value in paths:
        forged = copy.deepcopy(signed)
        holder = forged
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = altered(value)
        with pytest.raises(signing.InvalidReceipt):
            signing.verify(forged, key)
    for key_name in list(signed["receipt"]):  # a field left out
        forged = copy.deepcopy(signed)
        del forged["receipt"][key_name]
        with pytest.raises(signing.InvalidReceipt):
            signing.verify(forged, key)
    forged = copy.deepcopy(signed)  # or one added
    forged["receipt"]["note"] = "approved by the board"
    with pytest.raises(signing.InvalidReceipt, match="altered"):
        signing.verify(forged, key)


def test_a_receipt_signed_by_another_key_is_refused_by_name(promoted, api_as):
    signed = receipt_of(promoted, api_as("lead"))
    other = Ed25519PrivateKey.generate()
    with pytest.raises(signing.InvalidReceipt, match="another server or key"):
        signing.verify(signed, other.public_key())
    resigned = signing.sign(signed["receipt"], other)  # a forger's own key, named as ours
    resigned["signature"]["key_id"] = signed["signature"]["key_id"]
    with pytest.raises(signing.InvalidReceipt, match="altered"):
        signing.verify(resigned, public_key(api_as("lead")))


def test_slipway_verify_checks_a_receipt_offline(promoted, api_as, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SLIPWAY_URL", raising=False)
    monkeypatch.delenv("SLIPWAY_TOKEN", raising=False)
    signed = receipt_of(promoted, api_as("lead"))
    (tmp_path / "receipt.json").write_text(json.dumps(signed, indent=2))
    (tmp_path / "key.json").write_text(api_as("lead").get(PUBLIC_KEY).content.decode())
    (tmp_path / "key.pem").write_text(api_as("lead").get(PUBLIC_KEY).json()["pem"])
    for key in ("key.json", "key.pem"):
        code = slipway_main(
            ["verify", str(tmp_path / "receipt.json"), "--key", str(tmp_path / key)]
        )
        out = capsys.readouterr().out
        assert code == 0
        assert "receipt.json: valid. lead promoted" in out and "from uat to live" in out
    signed["receipt"]["signoffs"][0]["signed_by"] = "lead"
    (tmp_path / "forged.json").write_text(json.dumps(signed))
    code = slipway_main(
        ["verify", str(tmp_path / "forged.json"), "--key", str(tmp_path / "key.pem")]
    )
    assert code == 1
    assert "NOT VALID — The signature does not match" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "is not JSON"),
        ("[]", 'object with "receipt" and "signature" only'),
        ('{"receipt": {}, "signature": {}}', "is not a slipway.promotion-receipt"),
        ("[" * 100_000, "is not JSON"),
    ],
)
def test_slipway_verify_names_what_is_wrong_with_a_bad_file(
    tmp_path, capsys, content, message, api_as
):
    (tmp_path / "r.json").write_text(content)
    (tmp_path / "key.json").write_text(api_as("lead").get(PUBLIC_KEY).content.decode())
    assert (
        slipway_main(["verify", str(tmp_path / "r.json"), "--key", str(tmp_path / "key.json")]) == 1
    )
    assert message in capsys.readouterr().err


def test_slipway_verify_refuses_a_huge_file_without_reading_it_all(tmp_path, capsys):
    huge = tmp_path / "huge.json"
    with huge.open("wb") as file:
        file.truncate(signing.MAX_RECEIPT_BYTES + 10)
    assert slipway_main(["verify", str(huge), "--key", str(huge)]) == 2
    assert "larger than any receipt or key" in capsys.readouterr().err


def test_the_receipt_is_issued_once_and_kept(promoted, api_as):
    first = receipt_of(promoted, api_as("lead"))
    assert receipt_of(promoted, api_as("sales")) == first
    promoted.refresh_from_db()
    assert json.loads(promoted.receipt) == first


def test_the_receipt_waits_for_the_deployment_to_end(pipeline, users, api_as):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    deployment = promote(pipeline, env(pipeline, "uat"), env(pipeline, "live"), by=users["lead"])
    promotion = Promotion.objects.get(deployment=deployment)
    response = api_as("lead").get(f"/api/v1/promotions/{promotion.pk}/receipt")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "receipt_not_ready"
    page = Client()
    page.force_login(users["qa"])
    html = page.get(f"/promotions/{promotion.pk}/").content.decode()
    assert "data-receipt-pending" in html and "is still queued" in html
    Deployment.objects.filter(pk=deployment.pk).update(status="failed")
    assert receipt_of(promotion, api_as("lead"))["receipt"]["deployment"]["status"] == "failed"


def test_the_receipt_is_issued_when_the_deployment_ends_without_being_asked(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the deployment runs after commit
        deployment = promote(
            pipeline, env(pipeline, "uat"), env(pipeline, "live"), by=users["lead"]
        )
    promotion = Promotion.objects.get(deployment=deployment)
    assert json.loads(promotion.receipt)["receipt"]["deployment"]["status"] == "succeeded"


def test_the_public_key_is_served_without_a_token_and_receipts_need_a_role(promoted, api_as):
    answer = Client().get(PUBLIC_KEY).json()
    assert answer["algorithm"] == "Ed25519" and answer["pem"].startswith("-----BEGIN PUBLIC KEY")
    assert answer["key_id"] == signing.key_id(receipts.public_key())
    path = f"/api/v1/promotions/{promoted.pk}/receipt"
    assert Client().get(path).status_code == 401
    assert api_as("nobody").get(path).status_code == 403
    assert api_as("lead").get("/api/v1/promotions/999999/receipt").status_code == 404


def test_the_key_is_made_once_and_kept_private(settings, tmp_path):
    key = receipts.signing_key()
    path = tmp_path / "var" / "receipt-key.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    receipts.signing_key.cache_clear()
    assert signing.key_id(receipts.signing_key().public_key()) == signing.key_id(key.public_key())
    assert [p.name for p in path.parent.iterdir()] == ["receipt-key.pem"]  # nothing left aside


def test_a_key_from_the_settings_is_used_instead_of_the_file(settings, tmp_path):
    key = Ed25519PrivateKey.generate()
    settings.SLIPWAY_RECEIPT_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    receipts.signing_key.cache_clear()
    assert signing.key_id(receipts.public_key()) == signing.key_id(key.public_key())
    assert not (tmp_path / "var" / "receipt-key.pem").exists()


def test_the_promotion_page_shows_the_receipt_to_every_role(promoted, client_for):
    html = client_for("support").get(f"/promotions/{promoted.pk}/").content.decode()
    assert f'data-receipt="{promoted.pk}"' in html
    assert promoted.artifact.digest in html
    assert 'data-signoff="smoke-tested"' in html
    download = client_for("support").get(f"/promotions/{promoted.pk}/receipt.json")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    signing.verify(json.loads(download.content), receipts.public_key())
    deployment_page = client_for("developer").get(f"/deployments/{promoted.deployment_id}/")
    assert f'href="/promotions/{promoted.pk}/"' in deployment_page.content.decode()
    assert client_for("nobody").get(f"/promotions/{promoted.pk}/").status_code == 403
    assert Client().get(f"/promotions/{promoted.pk}/").status_code == 302
