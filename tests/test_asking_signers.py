"""Asking the signers: a candidate reaching uat asks the roles whose live checklist items do
not count for it yet — Slack (mentions per role), a signed webhook, an e-mail to each of the
role's users — once, with a link straight to their item. Slack and the webhook are a local
HTTP server taking Slack's documented payload; e-mail is Django's locmem outbox, and once a
real SMTP server (aiosmtpd) behind the production backend."""

import email
import email.policy
import re
import socket
import threading

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.db import connections
from django.test import TestCase
from django.utils import timezone

from pipelines import checklist, signers
from pipelines.config import load_pipeline_text
from pipelines.errors import ConfigError
from pipelines.models import Build, SignoffRequest
from tests.conftest import EXAMPLE_TOML
from tests.factories import passing_build
from tests.promoting import deploy, env, item, uat_runs_a_new_build
from tests.services import need_postgres
from tests.test_notifications import quick_retries, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

BASE = "https://slipway.example.com"
SALES = "<!subteam^S0SALES1>"
QA = "<@U0QA0001> <@W0QA0002>"


def with_signer_notifications(url: str, extra: str = "") -> str:
    return EXAMPLE_TOML.replace(
        'repository_url = "https://github.com/acme/webshop"\n',
        'repository_url = "https://github.com/acme/webshop"\n\n'
        f'[[pipeline.notifications]]\nkind = "slack"\nurl = "{url}/slack"\n'
        f'mentions = {{ sales = "{SALES}", qa = "{QA}" }}\n\n'
        f'[[pipeline.notifications]]\nkind = "webhook"\nurl = "{url}/hook"\n\n'
        '[[pipeline.notifications]]\nkind = "email"\nsigners = true\n\n'
        '[[pipeline.notifications]]\nkind = "email"\nto = "team@example.com"\n' + extra,
    )


@pytest.fixture
def asking(pipeline, receiver, settings):  # noqa: F811
    settings.SLIPWAY_BASE_URL = BASE
    load_pipeline_text(with_signer_notifications(receiver.url))
    return receiver


def asks_of(receiver) -> list[dict]:  # noqa: F811
    return [body for body in receiver.bodies("/hook") if body["event"] == "signoff.requested"]


def slack_asks(receiver) -> list[str]:  # noqa: F811
    return [b["text"] for b in receiver.bodies("/slack") if "please sign" in b["text"]]


def signer_mails() -> list:
    return [m for m in mail.outbox if "your sign-off" in m.subject]


def link(key: str) -> str:
    return f"{BASE}/pipelines/webshop/#checklist-live-{key}"


def test_a_candidate_reaching_uat_asks_each_unsigned_role_with_a_link_to_its_item(asking, users):
    users["support"].email = ""  # support has no address: no e-mail, still asked on Slack
    users["support"].save()
    candidate = uat_runs_a_new_build(pipeline=env_pipeline(users))

    (text,) = slack_asks(asking)
    lines = text.splitlines()
    assert lines[0] == (
        f"webshop: uat runs {candidate.label} of `{candidate.build.short_sha}` "
        f"“{candidate.build.subject}” (master). Before it goes to live, please sign:"
    )
    assert sorted(lines[1:]) == sorted(
        [
            f"• {QA}: <{link('smoke-tested')}|QA: smoke-tested on uat>",
            f"• {SALES}: <{link('not-mid-demo')}|Sales: not mid-demo>",
            f"• Support: <{link('not-serving-a-customer')}|Support: not serving a customer>",
        ]
    )
    (hook,) = asks_of(asking)
    assert hook["environment"] == "live" and hook["digest"] == candidate.artifact.digest
    assert {(i["role"], i["url"]) for i in hook["items"]} == {
        ("sales", link("not-mid-demo")),
        ("support", link("not-serving-a-customer")),
        ("qa", link("smoke-tested")),
    }
    mails = {tuple(m.to): m for m in signer_mails()}
    assert set(mails) == {("sales@example.com",), ("qa@example.com",)}
    sales = mails[("sales@example.com",)]
    assert sales.subject == "[Slipway] webshop: your sign-off for live: Sales: not mid-demo"
    assert link("not-mid-demo") in sales.body and "smoke-tested" not in sales.body
    html, kind = sales.alternatives[0]
    assert kind == "text/html" and f'<a href="{link("not-mid-demo")}">' in html
    # The team's address gets deploy news, not the asks.
    assert not [m for m in mail.outbox if m.to == ["team@example.com"] and m in signer_mails()]


def env_pipeline(users):
    """The pipeline of the `asking` fixture (webshop)."""
    from pipelines.models import Pipeline

    return Pipeline.objects.get(name="webshop")


def test_a_role_that_signed_this_candidate_is_not_asked(pipeline, receiver, users, settings):  # noqa: F811
    candidate = uat_runs_a_new_build(pipeline)  # before anyone is asked
    checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"])
    settings.SLIPWAY_BASE_URL = BASE
    load_pipeline_text(with_signer_notifications(receiver.url))

    deploy(env(pipeline, "uat"), candidate.build)  # the same artifact reaches uat again
    (text,) = slack_asks(receiver)
    assert "QA" not in text and "<@U0QA0001>" not in text
    assert SALES in text and "Support:" in text
    assert {m.to[0] for m in signer_mails()} == {"sales@example.com", "support@example.com"}


def test_the_same_candidate_is_asked_about_once(asking, users):
    pipeline = env_pipeline(users)
    candidate = uat_runs_a_new_build(pipeline)
    assert len(slack_asks(asking)) == 1 and len(signer_mails()) == 3

    deploy(env(pipeline, "uat"), candidate.build)  # redeployed: the same candidate
    assert signers.ask_signers(env(pipeline, "uat")) == []  # a retry of the listener
    assert len(slack_asks(asking)) == 1 and len(signer_mails()) == 3
    assert SignoffRequest.objects.count() == 3

    uat_runs_a_new_build(pipeline)  # a new candidate: asked again
    assert len(slack_asks(asking)) == 2


def test_a_signoff_that_expires_does_not_ask_again(asking, users):
    pipeline = env_pipeline(users)
    candidate = uat_runs_a_new_build(pipeline)
    checklist.sign(item(pipeline, "not-mid-demo"), by=users["sales"])  # valid for 30 minutes
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        state = checklist.checklist_state(env(pipeline, "live"))
        assert "not-mid-demo" in {s.item.key for s in state.missing}  # expired
        deploy(env(pipeline, "uat"), candidate.build)
    assert len(slack_asks(asking)) == 1


def test_a_hostile_branch_and_commit_message_cannot_mention_anyone_or_inject_html(asking, users):
    pipeline = env_pipeline(users)
    build = passing_build(
        pipeline,
        "hotfix/<!channel>&<b>",
        message="<!here> <@U0BOSS> <https://evil.example|click> <script>alert(1)</script>",
    )
    deploy(env(pipeline, "uat"), build)

    (text,) = slack_asks(asking)
    brackets = re.findall(r"<[^>]*>", text)
    assert sorted(brackets) == sorted(
        [
            SALES,
            *QA.split(),
            f"<{link('not-mid-demo')}|Sales: not mid-demo>",
            f"<{link('not-serving-a-customer')}|Support: not serving a customer>",
            f"<{link('smoke-tested')}|QA: smoke-tested on uat>",
        ]
    )
    assert "&lt;!here&gt; &lt;@U0BOSS&gt;" in text
    assert "(hotfix/&lt;!channel&gt;&amp;&lt;b&gt;)" in text
    for message in signer_mails():
        html = message.alternatives[0][0]
        assert "<script>" not in html and "<b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "hotfix/&lt;!channel&gt;&amp;&lt;b&gt;" in html


def test_a_failed_delivery_is_retried_by_celery_without_asking_again(
    pipeline,
    receiver,  # noqa: F811
    users,
    caplog,
):
    uat_runs_a_new_build(pipeline)  # before the targets exist: nobody asked yet
    load_pipeline_text(with_signer_notifications(receiver.url))
    receiver.answers = [500]  # the first delivery (Slack's) fails once
    with TestCase.captureOnCommitCallbacks(execute=True):
        asked = signers.ask_signers(env(pipeline, "uat"))
    assert len(asked) == 3
    first, again = slack_asks(receiver)
    assert first == again  # the same message, retried
    assert "slack notification signoff.requested failed (attempt 1 of 3)" in caplog.text
    assert SignoffRequest.objects.count() == 3  # claimed once, whatever the retries


def test_the_link_opens_the_checklist_item_for_a_logged_in_signer(asking, users, client_for):
    uat_runs_a_new_build(env_pipeline(users))
    url = next(i["url"] for i in asks_of(asking)[0]["items"] if i["role"] == "sales")
    path, anchor = url.removeprefix(BASE).split("#")
    page = client_for("sales").get(path).content.decode()
    found = re.search(rf'<li [^>]*\bid="{anchor}"[^>]*>(.*?)</li>', page, re.S)
    assert found, anchor
    assert 'data-action="sign"' in found.group(1) and "Sales: not mid-demo" in found.group(1)


def test_nothing_is_asked_without_a_target_that_asks(pipeline, receiver):  # noqa: F811
    load_pipeline_text(
        EXAMPLE_TOML.replace(
            'repository_url = "https://github.com/acme/webshop"\n',
            'repository_url = "https://github.com/acme/webshop"\n'
            '[[pipeline.notifications]]\nkind = "email"\nto = "team@example.com"\n',
        )
    )
    uat_runs_a_new_build(pipeline)
    assert signer_mails() == [] and SignoffRequest.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_the_same_candidate_ask_once(pipeline, users, receiver, settings):  # noqa: F811
    need_postgres()
    uat_runs_a_new_build(pipeline)
    load_pipeline_text(with_signer_notifications(receiver.url))
    uat = env(pipeline, "uat")
    results, errors = [], []
    barrier = threading.Barrier(4)

    def ask() -> None:
        try:
            barrier.wait()
            results.append(signers.ask_signers(uat))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    asked = sorted(a.item.key for result in results for a in result)
    assert asked == ["not-mid-demo", "not-serving-a-customer", "smoke-tested"]
    receiver.wait_for(2)
    assert len(slack_asks(receiver)) == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'kind = "slack"\nurl = "https://hooks.example.com/x"\nmentions = { qa = "@qa-team" }',
            r'line \d+: .*mentions: qa has "@qa-team", which is not a Slack mention',
        ),
        (
            'kind = "slack"\nurl = "https://hooks.example.com/x"\nmentions = { ops = "<!here>" }',
            r'mentions: "ops" is not a role',
        ),
        (
            'kind = "slack"\nurl = "https://hooks.example.com/x"\nmentions = "<!here>"',
            r"mentions must be a table of role",
        ),
        (
            'kind = "email"\nsigners = true\nto = "team@example.com"',
            r"signers = true writes to each role's users: it takes no to",
        ),
        ('kind = "email"\nsigners = "yes"', r"signers"),
    ],
)
def test_a_bad_signer_setting_is_refused_naming_it(pipeline, table, message):
    bad = EXAMPLE_TOML.replace(
        'repository_url = "https://github.com/acme/webshop"\n',
        'repository_url = "https://github.com/acme/webshop"\n\n'
        f"[[pipeline.notifications]]\n{table}\n",
    )
    with pytest.raises(ConfigError, match=message):
        load_pipeline_text(bad, source="pipeline.toml")


def test_builds_named_in_the_messages_are_the_candidates(asking, users):
    """The message speaks of what uat runs now, not of an older build."""
    pipeline = env_pipeline(users)
    uat_runs_a_new_build(pipeline)
    newer = uat_runs_a_new_build(pipeline)
    assert Build.objects.filter(pipeline=pipeline).count() == 2
    assert f"`{newer.build.short_sha}`" in slack_asks(asking)[-1]


def test_the_examples_notification_tables_load_as_documented(pipeline, settings):
    """The commented [[pipeline.notifications]] of examples/webshop.toml, uncommented."""
    example = (settings.BASE_DIR / "examples" / "webshop.toml").read_text()
    block = re.search(r"^# \[\[pipeline\.notifications\]\]\n(?:# \S.*\n)+", example, re.M)
    tables = "".join(line[2:] + "\n" for line in block.group(0).splitlines())
    loaded = load_pipeline_text(
        EXAMPLE_TOML.replace(
            'repository_url = "https://github.com/acme/webshop"\n',
            f'repository_url = "https://github.com/acme/webshop"\n\n{tables}',
        )
    )
    kinds = {
        (t["kind"], bool(t.get("mentions")), bool(t.get("signers"))) for t in loaded.notifications
    }
    assert {("slack", True, False), ("email", False, True), ("webhook", False, False)} <= kinds


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free port, and Slipway's SMTP backend pointed at it."""
    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 Message accepted"

    with socket.socket() as probe:  # aiosmtpd's controller needs a known port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "pipelines.deadline.SMTPBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10, "use_tls": False},
        }
    }
    yield received
    controller.stop()


def test_over_real_smtp_each_signer_gets_a_text_and_html_mail_with_escaped_text(
    asking, users, smtp_server
):
    pipeline = env_pipeline(users)
    build = passing_build(pipeline, "master", message="Fix <b>checkout</b> & <!here>")
    deploy(env(pipeline, "uat"), build)

    asks = [e for e in smtp_server if b"your sign-off" in e.original_content]
    assert sorted(e.rcpt_tos[0] for e in asks) == [
        "qa@example.com",
        "sales@example.com",
        "support@example.com",
    ]
    (qa,) = [e for e in asks if e.rcpt_tos == ["qa@example.com"]]
    message = email.message_from_bytes(qa.original_content, policy=email.policy.default)
    assert message["To"] == "qa@example.com"
    assert (
        message["Subject"] == "[Slipway] webshop: your sign-off for live: QA: smoke-tested on uat"
    )
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert link("smoke-tested") in text and "Fix <b>checkout</b> & <!here>" in text
    assert f'<a href="{link("smoke-tested")}">QA: smoke-tested on uat</a>' in html
    assert "Fix &lt;b&gt;checkout&lt;/b&gt; &amp; &lt;!here&gt;" in html and "<b>" not in html
