"""Start, stop or restart the sample app in the background, with a pid file.

    python3 current/control.py restart --port 8101 --pidfile app.pid

`restart` stops the running app (if any), starts this release's app detached from the
caller (it survives until stopped), and waits until it answers on its port; it fails if
the new app does not come up. Its output goes to app.log next to the pid file.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
START_SECONDS = 10


def running_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def stop(pidfile: Path) -> None:
    pid = running_pid(pidfile)
    if pid is None:
        print("not running")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if running_pid(pidfile) is None or _is_zombie(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    print(f"stopped {pid}")


def start(pidfile: Path, port: int, flags: str = "", maintenance: str = "") -> None:
    log = open(pidfile.with_name("app.log"), "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [sys.executable, str(HERE / "app.py"), "--port", str(port)]
        + (["--flags", str(Path(flags).resolve())] if flags else [])
        + (["--maintenance", str(Path(maintenance).resolve())] if maintenance else []),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # not stopped with the deploy command's process group
    )
    pidfile.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the app exited at start with status {process.returncode} (see app.log)")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.05)
            continue
        print(f"started {process.pid} on port {port} from {HERE}")
        return
    sys.exit(f"the app did not answer on port {port} within {START_SECONDS} s")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "restart", "status"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--pidfile", type=Path, default=Path("app.pid"))
    parser.add_argument("--flags", default="", help="passed to app.py (feature flags)")
    parser.add_argument("--maintenance", default="", help="passed to app.py (its flag file)")
    args = parser.parse_args()
    if args.action in ("stop", "restart"):
        stop(args.pidfile)
    if args.action in ("start", "restart"):
        if args.port is None:
            parser.error("--port is required to start")
        start(args.pidfile, args.port, args.flags, args.maintenance)
    if args.action == "status":
        pid = running_pid(args.pidfile)
        print(f"running as {pid}" if pid else "not running")
        sys.exit(0 if pid else 1)


if __name__ == "__main__":
    main()
