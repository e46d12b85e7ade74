"""Slipway's own deployment checks (`manage.py check --deploy`, `make check-deploy`): the
settings a production Slipway needs that Django's own checks do not know of."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

# Hosts only this machine reaches: a link there leads nobody else anywhere.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


@register("slipway", deploy=True)
def check_base_url(app_configs=None, **kwargs) -> list[CheckMessage]:
    """SLIPWAY_BASE_URL starts the links that notifications send (asking the signers:
    docs/signers.md); its default suits `make run` only."""
    url = settings.SLIPWAY_BASE_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "is not an absolute http(s) URL"
    elif parts.hostname in LOOPBACK_HOSTS or parts.hostname.endswith(".localhost"):
        problem = "points at this machine (unset, it is make run's http://127.0.0.1:8000)"
    else:
        return []
    return [
        Warning(
            f"SLIPWAY_BASE_URL {url!r} {problem}: the links in Slack messages and e-mails "
            "(a signer's checklist item) would lead nowhere.",
            hint="Set SLIPWAY_BASE_URL to where people reach Slipway, e.g. "
            "https://slipway.example.com.",
            id="slipway.W001",
        )
    ]
