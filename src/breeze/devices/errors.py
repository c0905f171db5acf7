"""Errors of the devices domain."""

from __future__ import annotations

from breeze.core.errors import Conflict, NotFound


class DeviceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Device not found")


class DeviceDecommissioned(Conflict):
    code = "device_decommissioned"

    def __init__(self) -> None:
        super().__init__("The device is decommissioned; it can no longer be changed")
