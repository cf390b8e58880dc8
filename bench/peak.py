"""Peak memory of a whole process, by /usr/bin/time -v (shared by the bench scripts)."""

from __future__ import annotations

import os
import re
import subprocess


def peak_mb(argv: list[str], **run_options) -> float | None:
    """The maximum resident set size of ``argv`` in MiB; None without /usr/bin/time.

    ``run_options`` go to ``subprocess.run`` (cwd, env, check).
    """
    if not os.path.exists("/usr/bin/time"):
        return None
    out = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True,
                         **run_options)
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    return int(found.group(1)) / 1024 if found else None
