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
exec "$@"
