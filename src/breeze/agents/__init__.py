"""The agent gateway: enrollment keys, enrollment, heartbeats, agent authentication."""
