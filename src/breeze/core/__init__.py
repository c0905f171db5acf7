"""Cross-domain building blocks: errors, principal and restrict(), pagination."""
