"""Upload a large artifact through a real daphne and measure what it costs the server.

    .venv/bin/python bench/upload_artifact.py [--size-mib 1024] [--rounds 3] [--dir var/bench]

Prints the server's peak RSS increase during the upload (goal: < 64 MiB) and the upload's
throughput as a ratio to `cp` of the same file on the same disk, measured in the same run
(goal: >= 0.5). The store fsyncs an artifact before it answers (a stored artifact must
survive a power cut), so the goal is judged against `cp` plus an fsync of the copy; the
ratio to `cp` alone, which leaves the copy in the page cache, is printed beside it. A
virtual disk's write speed swings from one second to the next, so cp and the upload take
turns, --rounds times, and the medians are compared; each round uploads new bytes, as each
CI build does. Exits 1 when a goal is missed. Uses its own SQLite database in --dir.
"""

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
MiB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="artifact size (1024)")
    parser.add_argument("--rounds", type=int, default=3, help="cp/upload turns (3)")
    parser.add_argument("--dir", type=Path, default=BASE_DIR / "var" / "bench")
    args = parser.parse_args()

    scratch = args.dir.resolve()
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    database_url = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["DATABASE_URL"] = database_url
    os.environ["SLIPWAY_ARTIFACT_DIR"] = str(scratch / "artifacts")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    # DATABASE_URL makes it production mode, which needs a key: this one is for here only.
    os.environ.setdefault("SECRET_KEY", "slipway-bench-only-not-a-secret-" + "x" * 32)
    token, shas = prepare_database(args.rounds)

    source = scratch / "artifact.bin"
    print(f"writing a {args.size_mib} MiB artifact to {source} …", flush=True)
    write_random_file(source, args.size_mib * MiB)

    import requests

    from pipelines.artifacts import artifact_path
    from pipelines.cli.client import UPLOAD_TIMEOUT, Client, CliError, FileBody
    from tests.live import run_server

    limit = str((args.size_mib + 1) * MiB)
    env = {"DATABASE_URL": database_url, "SLIPWAY_MAX_ARTIFACT_BYTES": limit}
    with run_server(scratch / "artifacts", env=env) as server:
        headers = {"Authorization": f"Bearer {token}"}
        requests.get(f"{server.url}/api/v1/pipelines", headers=headers).raise_for_status()
        before = rss_kib(server.process.pid)
        high_water_before = status_kib(server.process.pid, "VmHWM")
        sampler = PeakSampler(server.process.pid)
        sampler.start()
        cp_times, durable_cp_times, upload_times = [], [], []
        for round_number, sha in enumerate(shas, 1):
            digest = make_new_build(source, round_number)
            copied, durable = time_cp(source, scratch / "copy.bin")
            cp_times.append(copied)
            durable_cp_times.append(durable)
            os.sync()
            started = time.perf_counter()
            try:  # as `slipway push --artifact` sends it
                Client(server.url, token).put(
                    f"/pipelines/bench/builds/{sha}/artifact",
                    data=FileBody(source),
                    headers={"X-Artifact-SHA256": digest},
                    timeout=UPLOAD_TIMEOUT,
                )
            except CliError as error:
                print(f"the upload failed: {error.message}")
                return 1
            upload_times.append(time.perf_counter() - started)
            print(
                f"round {round_number}: cp {copied:.2f} s (+fsync {durable:.2f} s),"
                f" upload {upload_times[-1]:.2f} s",
                flush=True,
            )
            # cp's copy is deleted after timing; so is the upload's, or the next cp would
            # write into memory the guest has never touched (slow on a VM) while the upload
            # reused the pages cp gave back.
            artifact_path(f"sha256:{digest}").unlink()
        sampler.stop()
        high_water = status_kib(server.process.pid, "VmHWM")
        peak = max(sampler.peak, high_water if high_water > high_water_before else 0)

    increase_mib = (peak - before) / 1024
    cp_seconds, upload_seconds = statistics.median(cp_times), statistics.median(upload_times)
    durable_cp_seconds = statistics.median(durable_cp_times)
    ratio = durable_cp_seconds / upload_seconds
    size = args.size_mib * MiB

    def line(name: str, seconds: float) -> str:
        return f"{name:18} {seconds:6.2f} s  ({size / seconds / MiB:7.1f} MiB/s)"

    print(f"medians of {args.rounds} rounds, {args.size_mib} MiB each:")
    print(line("cp", cp_seconds))
    print(line("cp + fsync", durable_cp_seconds))
    print(line("upload (fsynced)", upload_seconds))
    print(f"throughput ratio upload / (cp + fsync): {ratio:.2f}   (goal >= 0.5)")
    print(f"throughput ratio upload / cp alone:     {cp_seconds / upload_seconds:.2f}")
    print(f"server peak RSS increase:   {increase_mib:.1f} MiB   (goal < 64 MiB)")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ratio >= 0.5 and increase_mib < 64 else 1


def prepare_database(builds: int) -> tuple[str, list[str]]:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from pipelines.builds import record_build
    from pipelines.models import Pipeline
    from pipelines.tokens import create_token

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("ci")
    user.groups.add(Group.objects.get_or_create(name="developer")[0])
    pipeline = Pipeline.objects.create(name="bench")
    shas = [f"{n:x}".rjust(40, "b") for n in range(builds)]  # one build per round
    for sha in shas:
        record_build(pipeline, sha=sha, status="running", branch="bench")
    _, raw = create_token(user, name="bench")
    return raw, shas


def write_random_file(path: Path, size: int) -> None:
    block = os.urandom(16 * MiB)  # one random block, rotated: cheap and incompressible enough
    with open(path, "wb") as out:
        written = 0
        while written < size:
            chunk = block[written % 7 :][: size - written]
            out.write(chunk)
            written += len(chunk)


def make_new_build(path: Path, round_number: int) -> str:
    """Make the file a new artifact (its first bytes change) and return its digest: each
    round stores new bytes, as each CI build does, not the same bytes again."""
    with open(path, "r+b") as file:
        file.write(round_number.to_bytes(8, "big"))
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(MiB):
            sha.update(chunk)
    return sha.hexdigest()


def time_cp(source: Path, target: Path) -> tuple[float, float]:
    """Seconds for `cp`, and for `cp` plus the fsync that makes the copy durable (the store
    fsyncs each artifact before answering, so that is the like-for-like figure)."""
    os.sync()  # neither cp nor the upload competes with writing back the other's pages
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    copied = time.perf_counter() - started
    fd = os.open(target, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    durable = time.perf_counter() - started
    target.unlink()
    os.sync()
    return copied, durable


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    return status_kib(pid, "VmRSS")


class PeakSampler(threading.Thread):
    """Polls the server's VmRSS (VmHWM alone would include its start-up peak)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)

    def stop(self) -> None:
        self.running = False
        self.join()


if __name__ == "__main__":
    sys.exit(main())
