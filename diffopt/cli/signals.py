"""Signals and a closed standard output, handled the way Unix tools do.

* SIGTERM (what a batch scheduler sends) and SIGHUP (a closed terminal) are
  handled like Ctrl-C: the running solve stops at its best point and
  reports it (status ``interrupted``); the exit status is 128 + the signal
  (143, 129), as a shell reports a process the signal ended.
* A reader that goes away (``diffopt eval ... | head -1``) ends the command
  quietly with 141 (128 + SIGPIPE), what a shell reports for a writer
  killed by SIGPIPE: no traceback, no "Exception ignored" at exit.
* Any other failure to write standard output -- a full disk
  (``> /dev/full``), a closed descriptor (``>&-``), an I/O error -- is one
  line on stderr, ``diffopt: error: cannot write standard output: <reason>``,
  and exit status 2: the result could not be delivered, and saying so beats
  a silent 0 or an internal error. ``guard_stdout`` makes every write and
  flush of ``sys.stdout`` raise ``OutputError`` for these, so the command
  layer can tell them from other errors.
"""

from __future__ import annotations

import errno
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
        os.dup2(devnull, 1)  # the flush at exit writes nowhere
    except (OSError, ValueError):
        pass
    return ExitStatus.BROKEN_PIPE


class OutputError(Exception):
    """Standard output cannot be written (not a closed pipe: that is BrokenPipeError)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _GuardedStdout:
    """sys.stdout, with write errors other than EPIPE raised as OutputError."""

    def __init__(self, stream):
        self._stream = stream

    def _call(self, name, *args):
        if self._stream is None:
            raise OutputError(os.strerror(errno.EBADF).lower() + " (standard output is closed)")
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError((exc.strerror or str(exc)).lower()) from None

    def write(self, text):
        return self._call("write", text)

    def flush(self):
        if self._stream is None:  # closed, and nothing was written: nothing lost
            return None
        return self._call("flush")

    def isatty(self):
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name):
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


def guard_stdout() -> None:
    """Wrap sys.stdout so that its write errors become OutputError."""
    if not isinstance(sys.stdout, _GuardedStdout):
        sys.stdout = _GuardedStdout(sys.stdout)


def output_failed(error: OutputError) -> ExitStatus:
    """Report an unwritable standard output once, and write nothing more to it."""
    sys.stderr.write(f"diffopt: error: cannot write standard output: {error.reason}\n")
    stdout_closed()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- lives until exit; its flush is harmless
    return ExitStatus.BAD_INPUT


def flush_stdout() -> ExitStatus | None:
    """Flush standard output at the end; the status to exit with if that fails."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return stdout_closed()
    except OutputError as error:
        return output_failed(error)
    except (AttributeError, ValueError):  # closed or absent: nothing to flush
        pass
    return None
