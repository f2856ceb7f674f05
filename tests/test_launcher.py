"""`flask crm run` (make run): the web server and the scheduler start together and stop together."""

import os
import signal
import subprocess
import sys
import time

import pytest

from app.admin.launcher import commands, run_together

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WAIT_THEN_FAIL = (
    "import os, sys, time\nwhile not (os.path.exists(sys.argv[1]) and open(sys.argv[1]).read()): "
    "time.sleep(0.05)\nsys.exit(3)"
)
CHILD = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie not yet reaped by the (ended) launcher counts as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for(path, seconds=90):  # a child imports the app: slow on a loaded machine
    deadline = time.monotonic() + seconds
    while not (os.path.exists(path) and open(path).read()):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.1)
    return int(open(path).read())


def test_the_launcher_starts_the_web_server_and_the_scheduler():
    named = dict(commands("127.0.0.1", 5123))
    assert named["scheduler"][-2:] == ["crm", "scheduler"]
    assert named["web"][-5:] == ["run", "--host", "127.0.0.1", "--port", "5123"]


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_both(tmp_path, stop_with):
    files = [str(tmp_path / "web.pid"), str(tmp_path / "scheduler.pid")]
    script = (
        "import sys; from app.admin.launcher import run_together; "
        f"sys.exit(run_together([(f, [sys.executable, '-c', {CHILD!r}, f]) for f in {files!r}], "
        "poll_seconds=0.1))"
    )
    launcher = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        pids = [_wait_for(path) for path in files]
        assert all(_alive(pid) for pid in pids)
        launcher.send_signal(stop_with)
        assert launcher.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in pids)
    finally:
        if launcher.poll() is None:
            launcher.kill()


def test_when_one_ends_the_other_is_stopped(tmp_path):
    path = str(tmp_path / "long.pid")
    started = time.monotonic()
    code = run_together(
        [("long", [sys.executable, "-c", CHILD, path]), ("short", [sys.executable, "-c", WAIT_THEN_FAIL, path])],
        log=lambda line: None,
        poll_seconds=0.1,
    )
    assert code == 3 and time.monotonic() - started < 30
    assert not _alive(_wait_for(path))
