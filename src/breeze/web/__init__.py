"""The web console: server-rendered pages (Jinja2 + htmx) over the same actions and
queries as the JSON API. Each domain's HTML routes live in its own `views.py`."""
