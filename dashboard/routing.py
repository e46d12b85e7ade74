"""WebSocket routes (docs/architecture.md, "Live updates")."""

from django.urls import path

from dashboard.consumers import BoardConsumer, DeploymentLogConsumer

websocket_urlpatterns: list = [
    path("ws/deployments/<int:deployment>/", DeploymentLogConsumer.as_asgi()),
    path("ws/pipelines/<slug:pipeline>/", BoardConsumer.as_asgi()),
]
