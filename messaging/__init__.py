"""Broker plumbing shared by Tocsin's services: topology, confirmed publishing, retry policy."""
