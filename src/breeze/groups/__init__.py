"""Device groups: static membership lists and dynamic groups defined by rules (seed 003
DeviceGroup, seed 004 epic E2)."""
