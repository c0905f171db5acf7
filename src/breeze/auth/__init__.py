"""Authentication: login, tokens, sessions, MFA, password reset, throttling."""
