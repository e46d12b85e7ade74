"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import gc
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from dashboard.daphne_responses import install as wait_for_slow_readers  # noqa: E402
from dashboard.daphne_streaming import install as stream_request_bodies  # noqa: E402
from dashboard.daphne_websockets import install as bound_websocket_sends  # noqa: E402
from dashboard.routing import websocket_urlpatterns  # noqa: E402
from pipelines.api.streaming import (  # noqa: E402
    body_limit,
    is_forwarded,
    too_large,
    with_body_limits,
    with_streamed_uploads,
)
from pipelines.runner.embedded import with_embedded_reaper  # noqa: E402

# Artifact uploads and reports skip daphne's in-memory buffering (docs/api.md, "Large
# uploads"); every body is bounded (docs/security.md).
stream_request_bodies(is_forwarded, body_limit, too_large)
# A frame sent to many sockets is framed once; a socket that reads too slowly is closed
# rather than buffered without limit (docs/architecture.md, "Live updates").
bound_websocket_sends(settings.SLIPWAY_SOCKET_BUFFER_BYTES)
# A streamed response (a raw log) is made no faster than its client reads it.
wait_for_slow_readers()

# Without REDIS_URL the server also reaps deployments whose runner died (docs/deploying.md).
application = with_embedded_reaper(
    ProtocolTypeRouter(
        {
            "http": with_body_limits(with_streamed_uploads(django_asgi_app)),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)

# What startup made lives as long as the process: out of the collector's way, so that a full
# collection scans only what came since (with Django and its apps loaded, each took ~0.3 s of
# a busy server; docs/architecture.md, "Live updates").
gc.freeze()
