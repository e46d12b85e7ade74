"""The sample app's own tests (standard library only):  python3 -m unittest test_app"""

import json
import shutil
import tempfile
import threading
import unittest
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path

import app
import db


class SampleAppTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp())
        (self.folder / "REVISION").write_text("0123456789abcdef\nAdd gift cards\n")
        self.addCleanup(shutil.rmtree, self.folder)
        self.original_here, app.HERE = app.HERE, self.folder
        self.addCleanup(setattr, app, "HERE", self.original_here)
        app.Handler.environment = "uat"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), app.Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base + path) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def test_version_reports_the_commit_and_environment(self) -> None:
        status, body = self.get("/__version__")
        self.assertEqual(status, 200)
        self.assertEqual(
            json.loads(body),
            {"sha": "0123456789abcdef", "message": "Add gift cards", "environment": "uat"},
        )

    def test_the_page_shows_the_short_commit(self) -> None:
        status, body = self.get("/")
        self.assertEqual(status, 200)
        self.assertIn("<code>0123456</code>", body)
        self.assertIn("webshop on uat", body)

    def test_other_paths_are_not_found(self) -> None:
        self.assertEqual(self.get("/nope")[0], 404)

    def test_while_the_maintenance_file_exists_pages_answer_503_with_a_readable_page(self) -> None:
        flag = self.folder / "maintenance.on"
        self.addCleanup(setattr, app.Handler, "maintenance_file", "")
        app.Handler.maintenance_file = str(flag)
        self.assertEqual(self.get("/")[0], 200)  # no file: no maintenance

        flag.write_text("Deploying v3 <b>now</b>\n")
        status, body = self.get("/?user=quinn")
        self.assertEqual(status, 503)
        self.assertIn("webshop on uat is being updated", body)
        self.assertIn("Deploying v3 &lt;b&gt;now&lt;/b&gt;", body)  # as written, escaped
        self.assertEqual(self.get("/nope")[0], 503)
        with urllib.request.urlopen(self.base + "/__version__") as response:
            self.assertEqual(response.status, 200)  # health checks still see the release

        flag.unlink()
        self.assertEqual(self.get("/")[0], 200)

    def test_the_maintenance_page_says_when_to_come_back(self) -> None:
        flag = self.folder / "maintenance.on"
        flag.write_text("")
        self.addCleanup(setattr, app.Handler, "maintenance_file", "")
        app.Handler.maintenance_file = str(flag)
        try:
            urllib.request.urlopen(self.base + "/")
        except urllib.error.HTTPError as error:
            self.assertEqual(error.headers["Retry-After"], "30")
            self.assertEqual(error.headers["Cache-Control"], "no-store")
        else:
            self.fail("no 503")


class MigrationsTest(unittest.TestCase):
    def test_migrate_applies_each_migration_once(self) -> None:
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        database = str(folder / "shop.sqlite3")
        self.assertEqual(db.migrate(database), [name for name, _ in db.MIGRATIONS])
        self.assertEqual(db.migrate(database), [])


if __name__ == "__main__":
    unittest.main()
