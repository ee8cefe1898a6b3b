#!/bin/sh
# The compose command line, listening on every interface with protected mode off (as the
# official image's default configuration does).
set -eu
if [ "${1:-}" = "redis-server" ]; then
  shift
  exec redis-server --bind 0.0.0.0 --protected-mode no "$@"
fi
exec "$@"
