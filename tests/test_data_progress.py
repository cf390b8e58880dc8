"""Progress while reading a data file: the api's phase callback and the line drawn."""

from __future__ import annotations

from diffopt import api
from diffopt.data import PROGRESS_ROWS
from diffopt.report.progress import phase_line


def test_reading_reports_size_and_rows(tmp_path):
    rows = PROGRESS_ROWS + 10
    csv = tmp_path / "t.csv"
    # quoted cells: np.loadtxt declines, so the careful reader (with its rows) runs
    csv.write_text("x,y\n" + "".join(f'"{i}",{2 * i}\n' for i in range(rows)))
    program = tmp_path / "fit.dop"
    program.write_text('data t = csv("t.csv")\nparam a = 1\nminimize sum((a * t.x - t.y)^2)\n')
    events = []
    api.load(program, progress=lambda phase, **details: events.append((phase, details)))
    reading = [details for phase, details in events if phase == "reading data 't'"]
    assert reading[0] == {"size": csv.stat().st_size}
    assert {"done": PROGRESS_ROWS - 1, "total": rows} in reading
    assert [phase for phase, _ in events][-1] == "checking and recording"


def test_phase_line_draws_size_and_bar():
    line = phase_line("reading data 't'", {"size": 15_800_000, "done": 50, "total": 100}, 1.5)
    assert line.plain == ("reading data 't'…  (15.8 MB)  " + "━" * 12 + "─" * 12
                          + "  50%  1.5 s")
    plain = phase_line("reading data 't'", {"size": 900}, 0.5, unicode=False).plain
    assert plain == "reading data 't'...  (900 bytes)  500 ms"
