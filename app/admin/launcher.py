"""`flask crm run`: the whole product in one command, the web server and the job scheduler side by
side (so notices, escalations and scheduled broadcasts happen), both stopped together by Ctrl-C.

Each runs as its own process (the scheduler's lock and signal handling stay as in production);
when one of them ends, the other is stopped too, so nothing is left running half the product.
"""

import signal
import subprocess
import sys
import time


def commands(host, port):
    """The two processes `flask crm run` starts: (name, argv)."""
    flask = [sys.executable, "-m", "flask"]
    return [("scheduler", flask + ["crm", "scheduler"]), ("web", flask + ["run", "--host", host, "--port", str(port)])]


def stop(processes, grace_seconds=10):
    """Ask every still-running process to end (SIGTERM), then kill the ones that do not in time."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_together(named_commands, log=print, poll_seconds=0.5, popen=subprocess.Popen):
    """Start every command, wait until one ends or Ctrl-C (SIGINT) / SIGTERM arrives, then stop them
    all. Returns the exit code: 0 when stopped by a signal, else the code of the one that ended."""
    processes = []
    stopping = {"signal": None}

    def on_term(signum, frame):
        stopping["signal"] = signum

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for name, argv in named_commands:
            log(f"starting {name}: {' '.join(argv[1:] if argv and argv[0] == sys.executable else argv)}")
            processes.append(popen(argv))
        while stopping["signal"] is None:
            ended = [process for process in processes if process.poll() is not None]
            if ended:
                log("a process ended; stopping the others.")
                return ended[0].returncode or 0
            time.sleep(poll_seconds)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)
        signal.signal(signal.SIGTERM, previous)
