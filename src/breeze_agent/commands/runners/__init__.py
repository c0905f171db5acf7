"""Runners: how each kind of command actually executes on this machine."""
