#!/bin/bash
# Test stand-in entrypoint: writes the settings the official image gives RabbitMQ (listeners,
# guest usable from other containers, default user from the environment), then runs the
# server in the foreground.
set -euo pipefail

conf=/etc/rabbitmq/conf.d/10-standin.conf
{
    echo "listeners.tcp.default = 5672"
    echo "management.tcp.port = 15672"
    echo "loopback_users.guest = false"
    [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && echo "default_user = $RABBITMQ_DEFAULT_USER"
    [ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && echo "default_pass = $RABBITMQ_DEFAULT_PASS"
    [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ] && echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
    true
} > "$conf"
# The cluster shape gives every node the same cookie this way (RabbitMQ 3.x reads the
# variable; written to the file too, so the CLI in the health check uses the same one).
if [ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]; then
    umask 077
    rm -f "$HOME/.erlang.cookie"  # the package's own, read-only
    printf '%s' "$RABBITMQ_ERLANG_COOKIE" > "$HOME/.erlang.cookie"
    chmod 400 "$HOME/.erlang.cookie"
fi
exec "$@"
