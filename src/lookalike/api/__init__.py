"""The web service: a REST API under ``/api`` and a web page, over one :class:`~lookalike.Collection`.

Needs the ``web`` extra (FastAPI, Uvicorn, Jinja2, python-multipart); importing
``lookalike`` alone never imports it.  Run it with ``lookalike serve``.
"""

from lookalike.api.app import create_app

__all__ = ["create_app"]
