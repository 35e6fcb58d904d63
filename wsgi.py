"""The WSGI entry point for any server: gunicorn wsgi:app."""

from commentsvc import create_app

app = create_app()
