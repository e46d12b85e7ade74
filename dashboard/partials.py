"""The partials a full page, an htmx answer and a WebSocket frame all render: one template
per card or live region, so the three never drift apart (docs/architecture.md, "Two apps")."""

CARD = "dashboard/partials/environment_card.html"
PANEL = "dashboard/partials/promotion_panel.html"
FREEZE = "dashboard/partials/freeze_controls.html"
DEPLOYMENT_STATUS = "dashboard/partials/deployment_status.html"
HOP = "dashboard/partials/promotion_hop.html"
FREEZE_BANNER = "dashboard/partials/freeze_banner.html"
BRANCH_GROUP = "dashboard/partials/branch_group.html"  # a per-branch template and its rows
