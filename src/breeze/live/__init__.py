"""Live updates for the browser (server-sent events fed by the event bus)."""
