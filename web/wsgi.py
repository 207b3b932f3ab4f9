"""WSGI entry point for gunicorn or waitress: ``gunicorn web.wsgi:app``."""

from web import create_app

app = create_app()
