"""The pages load htmx and its WebSocket extension from django-htmx, each script carrying the
response's CSP nonce, and the files are really served (offline: no CDN)."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_every_page_loads_htmx_and_its_ws_extension_with_the_csp_nonce(pipeline, client_for):
    client = client_for("qa")
    response = client.get("/pipelines/webshop/")

    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    scripts = re.findall(r'<script src="([^"]+)" defer nonce="([^"]+)">', response.text)
    sources = [src for src, _ in scripts]
    assert [s for s in sources if "django_htmx" in s] == [
        "/static/django_htmx/htmx-2.min.js",
        "/static/django_htmx/ext/hx-ws-2.min.js",
    ]
    assert {n for _, n in scripts} == {nonce}
    htmx = b"".join(client.get(sources[0]).streaming_content)
    ws = b"".join(client.get(sources[1]).streaming_content)
    assert b'version:"2.' in htmx
    assert b"defineExtension('ws'" in ws or b'defineExtension("ws"' in ws
