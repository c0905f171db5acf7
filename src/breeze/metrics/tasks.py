"""Periodic work (being built)."""

from breeze.core.worker import PeriodicTask

TASKS: list[PeriodicTask] = []
