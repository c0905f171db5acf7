"""Device commands: the durable queue of work for agents (seed 003, protocol v1)."""
