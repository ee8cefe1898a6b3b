"""Postgres plumbing shared by the services that own a schema: engines and migrations."""
