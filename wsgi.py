"""WSGI entry point: ``gunicorn wsgi:app``."""

from volunteer_hub import create_app

app = create_app()
