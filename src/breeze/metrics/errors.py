"""Errors of the metrics domain."""

from breeze.core.errors import NotFound, ServiceUnavailable


class DeviceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Device not found")


class BufferFull(ServiceUnavailable):
    """The heartbeat buffer is full: the agent must retry later (nothing was stored)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "The server is busy storing heartbeats; retry later",
            headers={"Retry-After": str(max(1, retry_after))},
        )
