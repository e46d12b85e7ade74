"""The sample app Slipway's demo deploys: a page, and /__version__ with its commit.

Standard library only. The build writes the commit into REVISION next to this file.

    python3 app.py --port 8101 [--environment uat] [--flags flags.json]
                   [--maintenance maintenance.on]

With --maintenance, while that file exists (Slipway's maintenance_on_command creates it,
maintenance_off_command removes it) every page answers 503 with a maintenance page, its
first line as the reason; /__version__ still answers, so health checks and the drift probe
see the release during a deployment, as a load balancer's health check would.

With --flags (a JSON file {"url": Slipway's address, "key": a flag key}) the page asks
Slipway over OFREP whether the `gift-cards` flag is on for the visitor: `?user=NAME` is
the targeting key, `?groups=qa,staff` the groups (the demo has no logins of its own).
"""

import argparse
import html
import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

HERE = Path(__file__).resolve().parent
MAX_REASON = 200  # characters of the maintenance flag file shown on the page


def revision() -> dict[str, str]:
    """{"sha": …, "message": …} from the REVISION file (sha on the first line)."""
    try:
        lines = (HERE / "REVISION").read_text().splitlines()
    except FileNotFoundError:
        lines = []
    return {"sha": lines[0].strip() if lines else "unknown", "message": " ".join(lines[1:2])}


def flag_is_on(config_file: str, key: str, user: str, groups: list[str]) -> bool:
    """Ask Slipway (OFREP); off when there is no config or no clear answer."""
    try:
        config = json.loads(Path(config_file).read_text())
        url = config["url"].rstrip("/") + "/ofrep/v1/evaluate/flags/" + quote(key)
        token = config["key"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    body = json.dumps({"context": {"targetingKey": user or "anonymous", "groups": groups}})
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(request, timeout=2) as response:
            return json.load(response).get("value") is True
    except (OSError, ValueError, urllib.error.URLError):
        return False


def maintenance_reason(flag_file: str) -> str | None:
    """None when not in maintenance; else the flag file's first line (may be empty)."""
    if not flag_file:
        return None
    try:
        with open(flag_file, encoding="utf-8", errors="replace") as file:
            return file.readline(MAX_REASON).strip()
    except FileNotFoundError:
        return None
    except OSError:
        return ""  # there, but unreadable: still maintenance


class Handler(BaseHTTPRequestHandler):
    server_version = "sampleapp"
    environment = ""
    flags_config = ""
    maintenance_file = ""

    def do_GET(self) -> None:
        info = revision()
        url = urlsplit(self.path)
        reason = maintenance_reason(self.maintenance_file)
        if url.path == "/__version__":
            body = json.dumps({**info, "environment": self.environment}).encode()
            self.reply(200, "application/json", body)
        elif reason is not None:
            page_html = maintenance_page(self.environment, reason).encode()
            self.reply(503, "text/html; charset=utf-8", page_html, retry_after=30)
        elif url.path == "/":
            query = parse_qs(url.query)
            user = query.get("user", [""])[0][:200]
            groups = [g for g in query.get("groups", [""])[0].split(",") if g][:20]
            gift_cards = bool(self.flags_config) and flag_is_on(
                self.flags_config, "gift-cards", user, groups
            )
            html_page = page(info, self.environment, gift_cards=gift_cards, user=user)
            self.reply(200, "text/html; charset=utf-8", html_page.encode())
        else:
            self.reply(404, "text/plain", b"not found\n")

    def reply(
        self, status: int, content_type: str, body: bytes, retry_after: int | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
            self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet: the demo runs three of these
        pass


def page(info: dict[str, str], environment: str, gift_cards: bool = False, user: str = "") -> str:
    where = f" on {html.escape(environment)}" if environment else ""
    visitor = f"<p>Visiting as {html.escape(user)}.</p>" if user else ""
    offer = '<p id="gift-cards">Gift cards: give webshop to a friend.</p>' if gift_cards else ""
    return (
        "<!doctype html><title>webshop</title>"
        f"<h1>webshop{where}</h1>"
        f"<p>Commit <code>{html.escape(info['sha'][:7])}</code>: {html.escape(info['message'])}</p>"
        f"{visitor}{offer}"
        '<p><a href="/">View as a customer</a> · <a href="/?user=quinn&amp;groups=qa">'
        "View as QA</a></p>"
    )


def maintenance_page(environment: str, reason: str) -> str:
    where = f" on {html.escape(environment)}" if environment else ""
    said = f"<p>{html.escape(reason)}</p>" if reason else ""
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>webshop: back in a minute</title>"
        "<style>body{font:1.1rem/1.5 system-ui,sans-serif;max-width:32rem;margin:10vh auto;"
        "padding:0 1rem;color:#1f2328;background:#fff}h1{font-size:1.6rem}"
        "@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}}</style>"
        f"<main><h1>webshop{where} is being updated</h1>"
        "<p>We are putting a new version in place. Your basket is safe: "
        "try again in a minute.</p>"
        f"{said}</main></html>"
    )


class Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: a burst of visitors arriving while
    # the machine is busy (a deployment's own work) would find the queue full.
    request_queue_size = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--environment", default=os.environ.get("SLIPWAY_ENVIRONMENT", ""))
    parser.add_argument("--flags", default="", help="JSON file with Slipway's url and flag key")
    parser.add_argument("--maintenance", default="", help="maintenance page while this exists")
    args = parser.parse_args()
    Handler.environment = args.environment
    Handler.flags_config = args.flags
    Handler.maintenance_file = args.maintenance
    Server((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
