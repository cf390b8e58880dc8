"""Reading standard input (``diffopt solve -``, ``--data NAME=-``) without internal errors.

Bytes are read undecoded, so the parser's decoder can locate a bad byte as
it does for a file; a closed standard input is a usage error.
"""

from __future__ import annotations

import sys

from diffopt.errors import UsageError


def standard_input_bytes() -> bytes:
    """Standard input's bytes, undecoded: the parser's decoder locates a bad byte.

    A closed standard input (``<&-``) is a usage error, not an internal one.
    """
    if sys.stdin is None:
        raise UsageError("standard input is closed; give a file name instead of '-'")
    try:
        return sys.stdin.buffer.read()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot read standard input: {reason.lower()}") from None


def standard_input_text() -> str:
    """Standard input as UTF-8 text (a data table given as ``--data NAME=-``)."""
    data = standard_input_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text: byte 0x{data[exc.start]:02x} "
                         f"at offset {exc.start}") from None
