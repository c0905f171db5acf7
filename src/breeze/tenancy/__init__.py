"""Tenancy: partners (MSPs), their organizations (customers) and sites."""
