"""Saved views: a user's named filters of a list (the device list first)."""
