"""Test only: hide the campaign's database from li-campaign worker processes, and record their opens.

Python imports ``sitecustomize`` at start-up from the first folder on its path that has one;
the staged-worker tests put this folder first on ``PYTHONPATH`` and set
``LI_CAMPAIGN_TEST_NO_DATABASE`` to a log folder. In a process started as
``python -m li_campaign.launch.worker``, and in every Python process it starts (e.g. the fit's
``nequip-train``), but not elsewhere (the runner and ``li-campaign launch`` must open the
database), an audit hook then

* refuses, with ``PermissionError``, every ``open`` of a path under the folders listed in
  ``LI_CAMPAIGN_TEST_HIDDEN`` (``os.pathsep``-separated: the campaign's ``db/``), every
  ``sqlite3.connect`` and every ``socket.connect``, so no database file or server can be
  reached, and
* writes each refusal (``denied <event> <what>``) and each ``open`` under
  ``LI_CAMPAIGN_TEST_WATCH`` (``open <path>``) to ``<log folder>/worker-<pid>.log``.

The log's first line is the process's command line.
"""

from __future__ import annotations

import os
import sys


def _install() -> None:
    log_dir = os.environ.get("LI_CAMPAIGN_TEST_NO_DATABASE")
    if not log_dir:
        return
    with open("/proc/self/cmdline", "rb") as handle:
        argv = [arg.decode() for arg in handle.read().split(b"\0") if arg]
    if "li_campaign.launch.worker" not in argv and not os.environ.get("LI_CAMPAIGN_TEST_UNDER_WORKER"):
        return
    os.environ["LI_CAMPAIGN_TEST_UNDER_WORKER"] = "1"  # inherited by the processes the worker starts
    hidden = [os.path.abspath(p) for p in os.environ.get("LI_CAMPAIGN_TEST_HIDDEN", "").split(os.pathsep) if p]
    watch = os.path.abspath(os.environ.get("LI_CAMPAIGN_TEST_WATCH", "/nonexistent"))
    fd = os.open(os.path.join(log_dir, f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, ("argv " + " ".join(argv) + "\n").encode())

    def under(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            if not isinstance(args[0], (str, bytes, os.PathLike)):
                return  # an open file descriptor
            path = os.path.abspath(os.fsdecode(args[0]))
            if any(under(path, folder) for folder in hidden):
                os.write(fd, f"denied open {path}\n".encode())
                raise PermissionError(f"test: the database is hidden from workers: {path}")
            if under(path, watch):
                os.write(fd, f"open {path}\n".encode())
        elif event in ("sqlite3.connect", "socket.connect"):
            os.write(fd, f"denied {event} {args!r}\n".encode())
            raise PermissionError(f"test: no database for workers: {event} {args!r}")

    sys.addaudithook(hook)


_install()
