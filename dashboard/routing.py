"""WebSocket routes (DESIGN §5)."""

websocket_urlpatterns: list = []
