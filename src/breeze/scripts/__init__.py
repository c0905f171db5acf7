"""The script library, its versions and batch executions (seed 003 Script*)."""
