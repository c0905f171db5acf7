"""Outgoing email: an outbox written in the business transaction, delivered after commit."""
