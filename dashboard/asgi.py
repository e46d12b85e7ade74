"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from dashboard.daphne_streaming import install as stream_request_bodies  # noqa: E402
from dashboard.routing import websocket_urlpatterns  # noqa: E402
from pipelines.api.streaming import is_streamed, with_streamed_uploads  # noqa: E402
from pipelines.runner.embedded import with_embedded_reaper  # noqa: E402

# Artifact uploads skip Django's body spooling and daphne's in-memory buffering (docs/api.md,
# "Large uploads").
stream_request_bodies(is_streamed)

# Without REDIS_URL the server also reaps deployments whose runner died (docs/deploying.md).
application = with_embedded_reaper(
    ProtocolTypeRouter(
        {
            "http": with_streamed_uploads(django_asgi_app),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)
