"""Custom fields: per-organization field definitions and their values on devices."""
