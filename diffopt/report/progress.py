"""The live progress display of ``diffopt solve`` and ``check``, on stderr.

Owns ``ProgressDisplay``: told the phases of a long preparation (reading and
parsing, checking and recording, compiling) and then each solver iteration
(an ``IterationInfo``), it lets Rich's ``Live`` redraw one transient line at
a bounded rate: the phase with its elapsed time once that phase has taken
over ``PHASE_DELAY`` seconds, then the iteration against its limit, the
objective, the gradient norm, the elapsed time and a sparkline of the last
``SPARK_WIDTH`` objectives. ``sparkline`` draws that last part. The CLI
hands it the stderr console and enables it only when stderr is a terminal
and ``--quiet`` is not given; on a dumb terminal (``TERM=dumb``) it writes a
plain line now and then instead of redrawing one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

from rich.console import Console
from rich.text import Text

from diffopt.report.formatting import ASCII_SPELLINGS, fmt, fmt_seconds, is_unicode

REFRESH_PER_SECOND = 8  # progress redraws per second (at most 10, per the contract)
PHASE_DELAY = 0.3  # a phase is shown only once it has taken this long (seconds)
SPARK_WIDTH = 30  # the sparkline covers this many of the latest iterations
DUMB_INTERVAL = 2.0  # seconds between plain lines on a dumb terminal
BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = "_.-=+*#@"


BAR_WIDTH = 24  # cells of the bar of rows read


def phase_line(phase: str, details: dict, waited: float, unicode: bool = True) -> Text:
    """``reading data 'trips'…  (15.8 MB)  [━━━━━━    ] 41%  1.2 s``: a phase, the
    size of the file it reads and a bar of rows done, when known."""
    line = Text.assemble((f"{phase}{'…' if unicode else '...'}", "bold"))
    size = details.get("size")
    if isinstance(size, int):
        line.append(f"  ({size / 1e6:.1f} MB)" if size >= 1e5 else f"  ({size} bytes)", "dim")
    done, total = details.get("done"), details.get("total")
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        fraction = min(max(done / total, 0.0), 1.0)
        filled = round(fraction * BAR_WIDTH)
        mark, rest = ("━", "─") if unicode else ("#", "-")
        line.append("  ")
        line.append(mark * filled, "cyan")
        line.append(rest * (BAR_WIDTH - filled), "dim")
        line.append(f" {fraction:4.0%}")
    line.append(f"  {fmt_seconds(waited)}", "dim")
    return line


def sparkline(values, blocks: str = BLOCKS) -> str:
    """One block character per value, lowest to highest; log-scaled over decades.

    Positive values spanning more than a factor of 10 are drawn on a log
    scale, so that the last orders of magnitude of a converging objective
    still show. Non-finite values are drawn as the highest block; equal
    values as the lowest.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return blocks[-1] * len(values)
    low, high = min(finite), max(finite)
    if low > 0 and high / low > 10:
        scale = math.log10
    else:
        def scale(v):
            return v
    low, high = scale(low), scale(high)
    top = len(blocks) - 1
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(blocks[-1])
        elif high == low:
            out.append(blocks[0])
        else:
            out.append(blocks[round((scale(v) - low) / (high - low) * top)])
    return "".join(out)


class ProgressDisplay:
    """Phase events and a solver callback that redraw one progress line.

    Use it as a context manager; pass ``phase`` as the api's ``progress`` and
    the object itself as the solver's callback::

        with ProgressDisplay(err_console, quiet=quiet) as progress:
            session = api.load(path, progress=progress.phase)
            result = api.solve(session, callback=progress, progress=progress.phase)

    Each call only stores the latest state; Rich's ``Live`` redraws at most
    ``REFRESH_PER_SECOND`` times a second from its own thread, so a fast
    solver is not slowed down and a log is never flooded. Drawing starts
    ``PHASE_DELAY`` seconds in (a quick command writes nothing). The line is
    transient: the final report (on stdout) is all that stays. When the
    console is not a terminal, or ``quiet`` is set, nothing is drawn at all.
    """

    def __init__(
        self,
        console: Console,
        *,
        quiet: bool = False,
        label: str = "solving",
        enabled: bool | None = None,
    ):
        self.console = console
        self.label = label
        self.enabled = (console.is_terminal and not quiet) if enabled is None else enabled
        self.dumb = bool(console.is_dumb_terminal)
        self.limit: int | None = None
        self._info: Any = None
        self._live: Any = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._phase: str | None = None
        self._details: dict = {}
        self._phase_started = time.monotonic()
        self._last_plain = 0.0
        self._last_draw = 0.0
        self._due = float("inf")  # when the display starts (set on entering)
        self._objectives: deque[float] = deque(maxlen=SPARK_WIDTH)

    def __enter__(self) -> ProgressDisplay:
        # Nothing at all is written (not even cursor codes) by a command that
        # ends within PHASE_DELAY: the display starts from a timer.
        self._last_plain = time.monotonic() + PHASE_DELAY - DUMB_INTERVAL
        if self.enabled and not self.dumb:
            # imported here, not in the timer's thread: a thread importing
            # (reading and compiling source) while the main thread computes
            # gets the GIL a few times a second and can take seconds
            from rich.live import Live

            self._live_class = Live
            self._due = time.monotonic() + PHASE_DELAY
            self._timer = threading.Timer(PHASE_DELAY, self._start)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _start(self) -> None:
        with self._lock:
            if self._closed or self._live is not None:  # started already (other thread)
                return
            # redrawn by the Live's own thread, and also from the main thread
            # as iterations arrive (see _redraw): a busy solver can starve a
            # thread of the GIL for a long while
            self._live = self._live_class(
                self,
                console=self.console,
                refresh_per_second=REFRESH_PER_SECOND,
                transient=True,
            )
            self._live.start()

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._live is not None:
                self._live.stop()
                self._live = None

    def phase(self, name: str, limit: int | None = None, **details: object) -> None:
        """Start a phase (the api's ``progress`` callback); ``limit`` is the iteration limit.

        Details drawn: ``size`` (bytes of the file being read) and ``done`` of
        ``total`` (rows converted so far: a bar). The same phase named again
        updates them, keeping its start time.
        """
        if name != self._phase:
            self._phase_started = time.monotonic()
            self._details = {}
        self._phase = name
        self._details = {**self._details, **details}
        self._info = None
        if limit is not None:
            self.limit = int(limit)
        self._plain_now_and_then()
        self._redraw()

    def __call__(self, info: Any) -> None:
        """Record one ``IterationInfo`` (iteration, objective, gradient_norm, step, elapsed)."""
        self._info = info
        self._objectives.append(float(info.objective))
        self._plain_now_and_then()
        self._redraw()

    def _redraw(self) -> None:
        """Refresh the live line from the calling thread, at most REFRESH_PER_SECOND times.

        Also starts the display once it is due, if the timer's thread has not
        yet (a busy solver can keep it waiting for the GIL).
        """
        now = time.monotonic()
        if self._live is None:
            if self._timer is None or now < self._due:
                return
            self._start()
        if now - self._last_draw >= 1.0 / REFRESH_PER_SECOND:
            self._last_draw = now
            with self._lock:
                if self._live is not None:
                    self._live.refresh()

    def _plain_now_and_then(self) -> None:
        """On a dumb terminal: a plain line every ``DUMB_INTERVAL`` seconds, no redrawing."""
        if not (self.enabled and self.dumb):
            return
        now = time.monotonic()
        if now - self._last_plain >= DUMB_INTERVAL:
            self._last_plain = now
            text = self.__rich__().plain
            if text:
                self.console.file.write(text + "\n")
                self.console.file.flush()

    def __rich__(self) -> Text:
        info = self._info
        unicode = is_unicode(self.console)
        if info is None:
            waited = time.monotonic() - self._phase_started
            if self._phase is None or waited < PHASE_DELAY:
                return Text("")
            return phase_line(self._phase, self._details, waited, unicode)
        iteration = str(info.iteration)
        if self.limit is not None:
            iteration += f"/{self.limit}"
        validation = getattr(info, "validation", None)
        epochs = self._phase == "training"  # stochastic methods: one event per epoch
        parts: list[tuple[str, Any]] = [
            ("epoch" if epochs else "iteration", iteration),
            ("train" if epochs else "objective", fmt(info.objective)),
            ("|grad|", fmt(info.gradient_norm)),
            ("lr" if epochs else "step", fmt(info.step)),
        ]
        if validation is not None:
            parts.insert(2, ("validation", fmt(validation)))
        violation = getattr(info, "max_violation", 0.0)
        if violation:
            parts.append(("violation", fmt(violation)))
        line = Text.assemble((f"{self.label}  ", "bold"))
        for key, value in parts:
            line.append_text(Text.assemble((key, "dim"), " ", value, "  "))
        line.append_text(Text.assemble(("elapsed", "dim"), " ", fmt_seconds(info.elapsed)))
        if len(self._objectives) > 1:
            blocks = BLOCKS if unicode else ASCII_BLOCKS
            line.append_text(Text.assemble("  ", (sparkline(self._objectives, blocks), "cyan")))
        if not unicode:
            # "µs" → "us"; the spans are cut to fit
            line.plain = line.plain.translate(ASCII_SPELLINGS)
        return line
