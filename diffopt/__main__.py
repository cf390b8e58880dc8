"""``python -m diffopt`` runs the command line."""

from diffopt.entry import main

main()
