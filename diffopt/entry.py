"""The console-script entry point: answer ``--version`` before importing Typer.

Everything else goes to the Typer app in diffopt.cli. Keeping this module
free of imports is what makes ``diffopt --version`` cost little more than
starting Python.
"""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from diffopt import __version__

        sys.stdout.write(f"diffopt {__version__}\n")
        return
    from diffopt.cli import main as cli_main

    cli_main()
