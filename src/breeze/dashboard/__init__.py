"""The console's dashboard: fleet status, recent activity and failing script runs."""
