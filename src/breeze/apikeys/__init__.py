"""API keys per partner or organization, limited to a subset of the creator's rights."""
