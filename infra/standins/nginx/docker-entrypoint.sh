#!/bin/bash
# Test stand-in entrypoint: like the official image, render /etc/nginx/templates/*.template
# with envsubst (only variables set in the environment) into $NGINX_ENVSUBST_OUTPUT_DIR
# (default /etc/nginx/conf.d), then start nginx.
set -euo pipefail

templates="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
if [ -d "$templates" ]; then
    defined="$(printf '${%s} ' $(env | cut -d= -f1))"
    find "$templates" -follow -type f -name "*$suffix" -print | while read -r template; do
        relative="${template#"$templates/"}"
        target="$output/${relative%"$suffix"}"
        mkdir -p "$(dirname "$target")"
        envsubst "$defined" < "$template" > "$target"
    done
fi
exec "$@"
