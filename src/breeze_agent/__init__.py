"""Breeze agent: runs on each managed endpoint."""

__version__ = "0.1.0"
