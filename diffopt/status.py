"""Exit statuses of the diffopt command (the contract's table, one place)."""

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0  # solve converged; check passed
    FAILURE = 1  # the job ran but did not succeed; the result is still printed
    BAD_INPUT = 2  # syntax, semantic, data or option errors
    INTERRUPTED = 130  # 128 + SIGINT
