"""The sample app Slipway's demo deploys: a page, and /__version__ with its commit.

Standard library only. The build writes the commit into REVISION next to this file.

    python3 app.py --port 8101 [--environment uat]
"""

import argparse
import html
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent


def revision() -> dict[str, str]:
    """{"sha": …, "message": …} from the REVISION file (sha on the first line)."""
    try:
        lines = (HERE / "REVISION").read_text().splitlines()
    except FileNotFoundError:
        lines = []
    return {"sha": lines[0].strip() if lines else "unknown", "message": " ".join(lines[1:2])}


class Handler(BaseHTTPRequestHandler):
    server_version = "sampleapp"
    environment = ""

    def do_GET(self) -> None:
        info = revision()
        if self.path == "/__version__":
            body = json.dumps({**info, "environment": self.environment}).encode()
            self.reply(200, "application/json", body)
        elif self.path == "/":
            self.reply(200, "text/html; charset=utf-8", page(info, self.environment).encode())
        else:
            self.reply(404, "text/plain", b"not found\n")

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet: the demo runs three of these
        pass


def page(info: dict[str, str], environment: str) -> str:
    where = f" on {html.escape(environment)}" if environment else ""
    return (
        "<!doctype html><title>webshop</title>"
        f"<h1>webshop{where}</h1>"
        f"<p>Commit <code>{html.escape(info['sha'][:7])}</code>: {html.escape(info['message'])}</p>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--environment", default=os.environ.get("SLIPWAY_ENVIRONMENT", ""))
    args = parser.parse_args()
    Handler.environment = args.environment
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
