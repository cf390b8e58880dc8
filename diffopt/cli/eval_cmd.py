"""``diffopt eval FILE``: the objective and every let at a point."""

from __future__ import annotations

from diffopt.cli.app import app
from diffopt.cli.common import (
    AtOpt,
    DataOpt,
    FileArg,
    JsonOpt,
    MaxMemoryOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    command,
    consoles,
    load,
    print_json,
    report_warnings,
)
from diffopt.status import ExitStatus


@app.command("eval")
@command
def eval_command(file: FileArg, at: AtOpt = None, set: SetOpt = None, data: DataOpt = None,
                 seed: SeedOpt = 0, max_memory: MaxMemoryOpt = None, json: JsonOpt = False,
                 quiet: QuietOpt = False):
    """Evaluate the objective, the lets and the constraints at the start point (or --at)."""
    from diffopt import api

    problem = load(file, set, data, seed, max_memory=max_memory)
    result = api.evaluate(problem, at=at)
    report_warnings(result.warnings)
    if json:
        print_json(result.to_json())
    else:
        from diffopt.report.console import print_eval

        print_eval(consoles()[0], result, quiet=quiet)
    return ExitStatus.SUCCESS
