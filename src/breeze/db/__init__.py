"""Database: engine, unit of work, base model and migrations."""
