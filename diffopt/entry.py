"""The console-script entry point: answer ``--version`` before importing Typer.

Everything else goes to the Typer app in diffopt.cli. Keeping this module
free of imports is what makes ``diffopt --version`` cost little more than
starting Python.
"""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from diffopt import __version__

        try:
            sys.stdout.write(f"diffopt {__version__}\n")
            sys.stdout.flush()
        except (AttributeError, OSError) as exc:  # closed (None) or unwritable stdout
            if isinstance(exc, BrokenPipeError):
                sys.exit(141)
            reason = getattr(exc, "strerror", None) or "bad file descriptor"
            sys.stderr.write(f"diffopt: error: cannot write standard output: {reason.lower()}\n")
            sys.exit(2)
        return
    from diffopt.cli import main as cli_main

    cli_main()
