"""Outgoing HTTP to addresses other people chose (webhook URLs, push endpoints): which
addresses may be reached, and a transport that connects only to addresses it checked."""
