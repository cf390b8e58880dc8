"""``diffopt check FILE``: forward vs reverse vs central differences."""

from __future__ import annotations

from typing import Annotated

import typer

from diffopt.cli import app
from diffopt.cli.common import (
    DataOpt,
    FileArg,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    command,
    consoles,
    load,
    print_json,
)
from diffopt.status import ExitStatus


@app.command("check")
@command
def check_command(
    file: FileArg,
    at: Annotated[str, typer.Option(
        "--at", help="init, random, NAME=VALUE,... or a JSON object.")] = "init",
    points: Annotated[int, typer.Option("--points", min=1, help="Number of points.")] = 1,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.")] = 1e-5,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-6,
    eps: Annotated[float | None, typer.Option(
        "--eps", help="Finite-difference step (relative); default cbrt(machine eps).")] = None,
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Check the derivatives: exit 1 when they disagree."""
    from diffopt import api

    problem = load(file, set, data, seed)
    result = api.check(problem, at=_at(at), points=points, rtol=rtol, atol=atol, eps=eps)
    if json:
        print_json(result.to_json())
    else:
        from diffopt.report.console import print_check

        print_check(consoles()[0], result, quiet=quiet)
    return ExitStatus.SUCCESS if result.passed else ExitStatus.FAILURE


def _at(text: str):
    """Accept NAME=VALUE,... besides init/random/JSON (check's extra form)."""
    stripped = text.strip()
    if stripped in ("init", "random") or stripped.startswith("{") or "=" not in stripped:
        return stripped
    import json

    pairs = {}
    for item in _split_top_level(stripped):
        name, _, value = item.partition("=")
        pairs[name.strip()] = value.strip()
    return json.dumps({k: json.loads(v) if v else v for k, v in pairs.items()})


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    if current:
        items.append(current)
    return items
