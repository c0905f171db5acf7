"""Roles and permissions: (resource, action) pairs, six built-in roles, custom roles."""
