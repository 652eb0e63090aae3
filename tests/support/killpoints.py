"""SIGKILL a real silentscope command at a chosen file-system step (a test harness, no library seam).

The child process installs a :func:`sys.audit` hook that counts every step which changes
the file system under a chosen folder (a file opened for writing, a rename or replace, a
removal, a new folder) and kills itself with SIGKILL just before step ``K``. Counting the
steps of an uninterrupted run (``K = 0``) and then killing at every ``K`` in turn covers
every moment between two steps of a writer, without any hook in library code.

Run as a script::

    python tests/support/killpoints.py ROOT K LOG_FILE silentscope-args...
    python tests/support/killpoints.py ROOT K LOG_FILE --python "code"

``LOG_FILE`` receives the steps seen (JSON: a list of ``[event, path]``) when the command
ends without a kill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_MUTATING = ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree", "os.truncate")


def _install(root: str, kill_at: int) -> list[list[str]]:
    seen: list[list[str]] = []
    busy = [False]

    def hook(event: str, args: tuple) -> None:
        if busy[0]:
            return
        if event == "open":
            path, mode, flags = args
            if isinstance(mode, str):
                writing = any(ch in mode for ch in "wax+")
            else:
                writing = bool((flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        elif event in _MUTATING:
            path, writing = args[0], True
        else:
            return
        if not writing or not isinstance(path, str | bytes | os.PathLike):
            return
        busy[0] = True
        try:
            inside = os.path.abspath(os.fsdecode(path)).startswith(root)
        finally:
            busy[0] = False
        if not inside:
            return
        seen.append([event, os.path.relpath(os.fsdecode(path), root)])
        if len(seen) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    return seen


def run_killed(
    root: Path, kill_at: int, args: list[str], log_file: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``silentscope *args`` in a child killed before its ``kill_at``-th step under ``root``.

    ``args`` may also be ``["--python", code]``. With ``kill_at=0`` nothing is killed and
    ``log_file`` receives the steps (see :func:`steps`).
    """
    env = dict(os.environ if env is None else env)
    # The child runs this file as a script: the repository root lets its code import tests.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, __file__, str(root), str(kill_at), str(log_file), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def steps(log_file: Path) -> list[tuple[str, str]]:
    """The steps an uninterrupted run logged: ``(event, path relative to ROOT)``."""
    return [tuple(step) for step in json.loads(Path(log_file).read_text())]


def main() -> None:
    root, kill_at, log_file, *args = sys.argv[1:]
    seen = _install(os.path.abspath(root), int(kill_at))
    try:
        if args[:1] == ["--python"]:
            exec(compile(args[1], "<killpoints>", "exec"), {"__name__": "__killpoints__"})
        else:
            from silentscope.cli import main as cli

            sys.argv = ["silentscope", *args]
            cli()
    finally:
        Path(log_file).write_text(json.dumps(seen))


if __name__ == "__main__":
    main()
