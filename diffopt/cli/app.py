"""The Typer application object and its root callback (``--version``).

Its own module so that the command modules can register on ``app`` without
importing the package that imports them (no import cycle).
"""

from __future__ import annotations

import typer

from diffopt import __version__

app = typer.Typer(
    name="diffopt",
    help="Minimize what a .dop file describes, with exact derivatives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        typer.echo(f"diffopt {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
):
    """Minimize what a .dop file describes, with exact derivatives."""
