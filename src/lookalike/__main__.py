"""``python -m lookalike`` runs the command line."""

from lookalike.cli.main import main

main()
