"""Exit statuses of the diffopt command (the contract's table, one place).

diffopt.vocab re-exports ``ExitStatus`` with the other tables of words;
tests/test_man.py checks that diffopt(1) lists exactly these statuses.
"""

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0  # solve converged; check passed
    FAILURE = 1  # the job ran but did not succeed; the result is still printed
    BAD_INPUT = 2  # syntax, semantic, data or option errors
    INTERNAL_ERROR = 70  # a bug in diffopt (EX_SOFTWARE); DIFFOPT_TRACEBACK=1 shows where
    HANGUP = 129  # 128 + SIGHUP: handled like Ctrl-C
    INTERRUPTED = 130  # 128 + SIGINT
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of standard output went away
    TERMINATED = 143  # 128 + SIGTERM: handled like Ctrl-C
