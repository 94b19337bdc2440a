"""``python -m lookalike`` runs the command line."""

from .cli import main

main()
