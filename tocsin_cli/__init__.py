"""`tocsin`: the operator's command line (tokens, sending, replay, dead letters, status)."""
