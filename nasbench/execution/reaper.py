"""What a study starts ends with it, however the study ends.

A local Ray instance is many processes (GCS, raylet, dashboard agent, runtime-env agent, workers);
when the driver is killed (SIGKILL, an out-of-memory kill) Ray's own agents notice it only after
30-75 s and each start leaves a ``session_*`` folder behind. ``session`` therefore

- gives the study a temporary folder of its own, ``<system temp>/nasbench-ray-<driver pid>`` (Ray's
  ``_temp_dir``; short, because Ray's Unix sockets live below it and their paths are limited to
  107 bytes), and marks every process started from the driver with the environment variable
  ``NASBENCH_STUDY_SESSION=<that folder>``, which Ray passes on to everything it starts (a process
  of the session is one with that mark or with a file open in that folder);
- starts a watcher (this file run as a script: a separate process that imports only the standard
  library, in its own session, so that a signal to the study's process group does not reach it)
  that waits for the driver to end and then kills every process still carrying the mark and
  removes the folder. On a normal end the driver does the same itself.

Folders left by a study whose watcher was killed too are removed by the next study (their driver
pid is no longer alive).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MARK = "NASBENCH_STUDY_SESSION"
PREFIX = "nasbench-ray-"


def marked_processes(value: str, mark: str = MARK, spare: tuple[int, ...] = ()) -> list[int]:
    """Pids of this user's processes whose environment holds ``mark=value`` (this process excluded) or,
    where ``value`` is a folder, that hold a file open below it. Both, because a process that renames
    itself (Ray's agents call setproctitle) may overwrite the end of its environment as /proc shows it,
    while every Ray process keeps its log files open in its session folder. ``spare``: pids left out
    (the driver, whose Ray log files stay open after ``ray.shutdown``)."""
    needle = f"{mark}={value}".encode() + b"\0"
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid() or pid in spare:
            continue
        try:
            if needle in (entry / "environ").read_bytes() + b"\0" or _holds_files_below(entry, value):
                found.append(pid)
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


def _holds_files_below(entry: Path, folder: str) -> bool:
    if not folder.startswith("/"):
        return False
    for fd in (entry / "fd").iterdir():
        try:
            if os.readlink(fd).startswith(folder + "/"):
                return True
        except OSError:
            continue
    return False


def end_marked(value: str, mark: str = MARK, rounds: int = 5, spare: tuple[int, ...] = ()) -> int:
    """SIGKILL every process marked ``value`` (again while new ones appear); return how many."""
    killed = 0
    for _ in range(rounds):
        pids = marked_processes(value, mark, spare)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.2)
    return killed


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_folders(root: Path | None = None) -> int:
    """Remove the temporary folders of studies whose driver is gone (and their processes)."""
    root = Path(root or tempfile.gettempdir())
    removed = 0
    for folder in root.glob(f"{PREFIX}*"):
        pid_text = folder.name[len(PREFIX):]
        if pid_text.isdigit() and not alive(int(pid_text)):
            end_marked(str(folder))
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def watch(folder: str, driver: int) -> None:
    """The watcher's body: wait for the driver to end (EOF on stdin), then end what it left. On a normal
    end the driver closes the pipe itself and is still alive: it is spared."""
    sys.stdin.buffer.read()  # returns at EOF: the driver has ended or is ending the session
    end_marked(folder, spare=(driver,))
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def session() -> Iterator[Path]:
    """A temporary folder for Ray and a mark on every process started inside the block; on leaving
    (or when this process dies) the marked processes are killed and the folder removed."""
    remove_stale_folders()
    folder = Path(tempfile.gettempdir()) / f"{PREFIX}{os.getpid()}"
    end_marked(str(folder))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # run as a script in isolated mode: it imports the standard library only, so it is ready at once
    watcher = subprocess.Popen([sys.executable, "-I", __file__, str(folder), str(os.getpid())], stdin=subprocess.PIPE,
                               start_new_session=True, env={k: v for k, v in os.environ.items() if k != MARK})
    previous = os.environ.get(MARK)
    os.environ[MARK] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(MARK, None)
        else:
            os.environ[MARK] = previous
        end_marked(str(folder))
        shutil.rmtree(folder, ignore_errors=True)
        watcher.stdin.close()  # the watcher finds nothing left to do and exits
        watcher.wait(timeout=30)


if __name__ == "__main__":
    watch(sys.argv[1], int(sys.argv[2]))
