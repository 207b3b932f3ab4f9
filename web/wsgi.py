"""WSGI entry point for gunicorn or waitress: ``gunicorn web.wsgi:app``."""

from services.config import Settings
from services.logging_setup import configure_logging
from web import create_app

settings = Settings.from_env()
configure_logging(settings)
app = create_app(settings)
