"""A text canvas for plots in a terminal: braille dots, marker characters, axes.

Each cell of a ``Canvas`` is a braille character holding 2 x 4 dots
(U+2800 + dot bits), or a character put there by ``mark`` (a marker or a
shading level), which wins over dots. ``framed`` puts tick labels on the
left and below and returns Rich ``Text`` lines, at most ``WIDTH`` columns
wide; their ``.plain`` is the picture without colours (what tests read).
Values are mapped linearly; a log scale is the caller's log10 of its values
with ``log_ticks`` labels.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text

WIDTH = 80  # no line of a terminal plot is wider
LEFT = 10  # tick labels and the axis line
PLOT_COLUMNS = 64  # cells across the drawing area (LEFT + this + a margin <= WIDTH)
# dot bits of a braille cell, by [row][column] of its 4 x 2 dots
DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
BRAILLE = 0x2800


class Canvas:
    """cols x rows cells over the box [x0, x1] x [y0, y1] (y up)."""

    def __init__(self, cols: int, rows: int, xlim, ylim):
        self.cols, self.rows = cols, rows
        self.x0, self.x1 = _widened(*xlim)
        self.y0, self.y1 = _widened(*ylim)
        self.bits = [[0] * cols for _ in range(rows)]
        self.chars: list[list] = [[None] * cols for _ in range(rows)]
        self.styles: list[list] = [[None] * cols for _ in range(rows)]

    def _pixel(self, x: float, y: float) -> tuple[int, int] | None:
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        px = (x - self.x0) / (self.x1 - self.x0) * (2 * self.cols - 1)
        py = (self.y1 - y) / (self.y1 - self.y0) * (4 * self.rows - 1)
        if not (-0.5 <= px <= 2 * self.cols - 0.5 and -0.5 <= py <= 4 * self.rows - 0.5):
            return None
        return round(px), round(py)

    def cell(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, column) of the cell holding (x, y), or None outside the box."""
        pixel = self._pixel(x, y)
        return None if pixel is None else (pixel[1] // 4, pixel[0] // 2)

    def dot(self, x: float, y: float, style: str | None = None) -> None:
        pixel = self._pixel(x, y)
        if pixel is not None:
            self._set(*pixel, style)

    def _set(self, px: int, py: int, style) -> None:
        row, col = py // 4, px // 2
        self.bits[row][col] |= DOT_BITS[py % 4][px % 2]
        if style and self.styles[row][col] is None:
            self.styles[row][col] = style

    def line(self, xs, ys, style: str | None = None) -> None:
        """A polyline through the points, dot by dot; gaps at non-finite points."""
        last = None
        for x, y in zip(xs, ys):
            pixel = self._pixel(float(x), float(y))
            if pixel is not None and last is not None:
                steps = max(abs(pixel[0] - last[0]), abs(pixel[1] - last[1]), 1)
                for k in range(steps + 1):
                    self._set(round(last[0] + (pixel[0] - last[0]) * k / steps),
                              round(last[1] + (pixel[1] - last[1]) * k / steps), style)
            elif pixel is not None:
                self._set(*pixel, style)
            last = pixel

    def mark(self, x: float, y: float, char: str, style: str | None = None) -> None:
        found = self.cell(x, y)
        if found is not None:
            self.put(*found, char, style)

    def put(self, row: int, col: int, char: str, style: str | None = None) -> None:
        self.chars[row][col] = char
        self.styles[row][col] = style

    def text_rows(self) -> list[Text]:
        rows = []
        for r in range(self.rows):
            line = Text()
            for c in range(self.cols):
                char = self.chars[r][c]
                if char is None:
                    char = chr(BRAILLE + self.bits[r][c]) if self.bits[r][c] else " "
                line.append(char, self.styles[r][c] or "")
            rows.append(line)
        return rows


def _widened(low: float, high: float) -> tuple[float, float]:
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0
    if high > low:
        return low, high
    pad = max(1.0, abs(low)) * 0.5
    return low - pad, high + pad


def tick(value: float) -> str:
    return f"{value:.4g}"


def log_tick(value: float) -> str:
    """A tick label of a log10 axis: the value it stands for."""
    return f"{10.0 ** value:.3g}"


def framed(canvas: Canvas, *, title: str = "", xlabel: str = "", ylabel: str = "",
           y_format=tick, x_format=tick, xticks: bool = True) -> list[Text]:
    """The canvas with a left axis (3 tick labels), a bottom axis and labels."""
    lines = []
    if title:
        lines.append(Text(title[:WIDTH], "bold"))
    if ylabel:
        lines.append(Text(ylabel[:WIDTH], "dim"))
    rows = canvas.text_rows()
    labelled = {0: canvas.y1, canvas.rows // 2: (canvas.y0 + canvas.y1) / 2,
                canvas.rows - 1: canvas.y0}
    for r, row in enumerate(rows):
        label = y_format(labelled[r]) if r in labelled else ""
        line = Text()  # (Text(..., style) would style the whole line, curves too)
        line.append(f"{label[:LEFT - 2]:>{LEFT - 2}} ", "dim")
        line.append("┤" if r in labelled else "│", "dim")
        line.append_text(row)
        lines.append(line)
    if xticks:
        lines.append(Text(" " * (LEFT - 1) + "└" + "─" * canvas.cols, "dim"))
        low, mid, high = x_format(canvas.x0), x_format((canvas.x0 + canvas.x1) / 2), \
            x_format(canvas.x1)
        axis = [" "] * (LEFT + canvas.cols + 8)
        for position, label in ((LEFT, low), (LEFT + canvas.cols // 2 - len(mid) // 2, mid),
                                (LEFT + canvas.cols - len(high), high)):
            axis[position: position + len(label)] = list(label)
        text = "".join(axis).rstrip()
        if xlabel and len(text) + 2 + len(xlabel) <= WIDTH:
            text += "  " + xlabel
        elif xlabel:  # its own line, under the middle of the axis
            lines.append(Text(text[:WIDTH], "dim"))
            text = " " * max(0, LEFT + (canvas.cols - len(xlabel)) // 2) + xlabel
        lines.append(Text(text[:WIDTH], "dim"))
    return lines


def log10_or_nan(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def finite_limits(*arrays) -> tuple[float, float]:
    finite = np.concatenate([np.ravel(a)[np.isfinite(np.ravel(a))] for a in arrays])
    if not finite.size:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())
