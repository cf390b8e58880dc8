"""``python -m diffopt`` runs the command line."""

from diffopt.cli import main

main()
