"""Broker plumbing shared by Tocsin's services: topology, the one queue consumer, confirmed
publishing, retry policy. Nothing here imports a service."""
