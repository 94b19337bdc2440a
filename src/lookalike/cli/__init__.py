"""The command line: one module per command group over the use cases."""

from lookalike.cli.main import app, main

__all__ = ["app", "main"]
