"""Devices: the managed endpoints, their inventory and its change history."""
