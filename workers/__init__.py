"""Celery: the app, thin tasks that call ``services/``, and the beat schedule."""
