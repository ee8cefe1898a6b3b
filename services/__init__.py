"""Tocsin's services, one package each."""
