"""The live progress line of ``diffopt solve`` on a terminal.

Owns ``ProgressDisplay``, the solver callback that keeps the latest
``IterationInfo`` and lets Rich's ``Live`` redraw it at a bounded rate. It
draws nothing when the console is not a terminal or under ``--quiet``.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from diffopt.report.formatting import ASCII_SPELLINGS, fmt, fmt_seconds, is_unicode

REFRESH_PER_SECOND = 8  # progress redraws per second (at most 10, per the contract)


class ProgressDisplay:
    """A solver callback that redraws one progress line on a terminal.

    Use it as a context manager and pass it as the solver's callback::

        with ProgressDisplay(console, quiet=quiet) as progress:
            result = api.solve(problem, config, callback=progress)

    Each call only stores the latest ``IterationInfo``; Rich's ``Live``
    redraws at most ``REFRESH_PER_SECOND`` times a second from its own thread,
    so a fast solver is not slowed down and a log is never flooded. The line
    is transient: the final report replaces it. When the console is not a
    terminal, or ``quiet`` is set, nothing is drawn at all.
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
        self._info: Any = None
        self._live: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            from rich.live import Live

            self._live = Live(
                self,
                console=self.console,
                refresh_per_second=REFRESH_PER_SECOND,
                transient=True,
            )
            self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __call__(self, info: Any) -> None:
        """Record one ``IterationInfo`` (iteration, objective, gradient_norm, step, elapsed)."""
        self._info = info

    def __rich__(self) -> Text:
        info = self._info
        if info is None:
            return Text(f"{self.label} …", style="dim")
        parts: list[tuple[str, Any]] = [
            ("iteration", info.iteration),
            ("objective", info.objective),
            ("|grad|", info.gradient_norm),
            ("step", info.step),
        ]
        violation = getattr(info, "max_violation", 0.0)
        if violation:
            parts.append(("violation", violation))
        line = Text.assemble((f"{self.label}  ", "bold"))
        for key, value in parts:
            line.append_text(Text.assemble((key, "dim"), " ", fmt(value), "  "))
        line.append_text(Text.assemble(("elapsed", "dim"), " ", fmt_seconds(info.elapsed)))
        if not is_unicode(self.console):
            # "µs" → "us"; the spans are cut to fit
            line.plain = line.plain.translate(ASCII_SPELLINGS)
        return line
