"""Signals and a closed standard output, handled the way Unix tools do.

* SIGTERM (what a batch scheduler sends) and SIGHUP (a closed terminal) are
  handled like Ctrl-C: the running solve stops at its best point and
  reports it (status ``interrupted``); the exit status is 128 + the signal
  (143, 129), as a shell reports a process the signal ended.
* A reader that goes away (``diffopt eval ... | head -1``) ends the command
  quietly with 141 (128 + SIGPIPE), what a shell reports for a writer
  killed by SIGPIPE: no traceback, no "Exception ignored" at exit.
"""

from __future__ import annotations

import os
import signal
import sys

from diffopt.status import ExitStatus


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, remembered for the status."""


_STATUS = {"SIGTERM": ExitStatus.TERMINATED, "SIGHUP": ExitStatus.HANGUP}
_received: list[int] = []


def install() -> None:
    """Turn SIGTERM and SIGHUP into ``Terminated`` in the main thread."""
    for name in _STATUS:
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, _raise)


def _raise(number, frame):
    _received.append(number)
    raise Terminated()


def interrupted_status() -> ExitStatus:
    """The status of an interrupted run: by SIGTERM/SIGHUP if one came, else Ctrl-C."""
    for number in _received:
        name = signal.Signals(number).name
        if name in _STATUS:
            return _STATUS[name]
    return ExitStatus.INTERRUPTED


def stdout_closed() -> ExitStatus:
    """The reader of standard output went away: stop writing, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit writes nowhere
    except (OSError, ValueError):
        pass
    return ExitStatus.BROKEN_PIPE
