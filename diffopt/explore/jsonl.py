"""The sweep's results file: one JSON object per finished case (JSON Lines).

Each line is appended and flushed the moment its case ends, so a sweep
killed at any point keeps every finished case; ``--resume`` reads them back
and runs only the rest. A last line cut short by the kill (no newline at
the end) is dropped from the file before appending.
"""

from __future__ import annotations

import json
import os

from diffopt.errors import UsageError


class ResultsWriter:
    """Appends one line per record to a file, flushed as each is written."""

    def __init__(self, path: str):
        self.path = path
        try:
            _drop_partial_line(path)
            self.handle = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"-o {path}: {(exc.strerror or str(exc)).lower()}") from None

    def write(self, record: dict) -> None:
        from diffopt.report.jsonout import dumps

        self.handle.write(dumps(record) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _drop_partial_line(path: str) -> None:
    """Cut a file back to its last newline (a line a kill cut short)."""
    try:
        with open(path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        return


def read_records(path: str) -> list[dict]:
    """The finished cases' records in a results file (none if it does not exist).

    Lines that are not a JSON object with ``settings`` (a line cut short, or
    text someone added) are skipped.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"--resume {path}: cannot read it: {reason}") from None
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("settings"), dict):
            records.append(record)
    return records


def has_content(path: str) -> bool:
    """Is there a non-empty file at ``path``?"""
    return os.path.isfile(path) and os.path.getsize(path) > 0


def settings_key(settings: dict) -> tuple:
    """A case's identity in a results file: its constants' names and values."""
    try:
        return tuple(sorted((str(name), float(value)) for name, value in settings.items()))
    except (TypeError, ValueError):
        return ()
