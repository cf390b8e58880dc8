"""``diffopt help [TOPIC]``: show a man page (the overview, the language, a command).

Also owns the pointer to the pages that ends every ``--help`` (``add_epilogs``).
The work is diffopt.manual's; nothing heavy is imported here.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from diffopt.cli.app import app
from diffopt.cli.common import command
from diffopt.status import ExitStatus

LANGUAGE_POINTER = "the language: 'diffopt help language' or man 5 dop."


def epilog(name: str | None) -> str:
    """The last line of ``--help``: where the manual of this command and of the language is."""
    if name is None:
        return f"See 'diffopt help' or man diffopt; {LANGUAGE_POINTER}"
    return f"See 'diffopt help {name}' or man diffopt-{name}; {LANGUAGE_POINTER}"


def add_epilogs(application: typer.Typer) -> None:
    """Give the app and every registered command the pointer, unless one has its own epilog."""
    if not isinstance(application.info.epilog, str):  # unset is None or Typer's Default(None)
        application.info.epilog = epilog(None)
    for info in application.registered_commands:
        if not isinstance(info.epilog, str):
            info.epilog = epilog(info.name or info.callback.__name__)


def _complete_topic(incomplete: str) -> list[str]:
    from diffopt import manual

    return [topic for topic in manual.topics() if topic.startswith(incomplete)]


@app.command("help")
@command
def help_command(
    topic: Annotated[str | None, typer.Argument(
        help="'language' (the .dop language, dop(5)) or a command; none: the overview.",
        metavar="[TOPIC]", autocompletion=_complete_topic, show_default=False)] = None,
):
    """Show the manual: the overview, the .dop language, or a command's page."""
    from diffopt import manual

    try:
        page = manual.page_for(topic)
    except manual.UnknownTopic as error:
        sys.stderr.write(f"diffopt help: {error}\n")
        return ExitStatus.BAD_INPUT
    manual.show(page)
    return ExitStatus.SUCCESS
