# One image for every Tocsin process; the command picks the part:
#   python -m services.notification | services.realtime | services.email | services.webhook
#   python -m services.demo | tocsin migrate | tocsin topology declare | tocsin status
# Build: docker build -t tocsin .

# -- the browser client and demo page (static files served by services.demo) ----------------
FROM node:20-slim AS web
WORKDIR /web
COPY clients/web/package.json clients/web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY clients/web/ ./
RUN npm run build

# -- Python dependencies into a virtualenv that the runtime stage copies ---------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/tocsin
WORKDIR /app
COPY pyproject.toml ./
COPY contracts/ contracts/
COPY messaging/ messaging/
COPY identity/ identity/
COPY database/ database/
COPY observability/ observability/
COPY services/ services/
COPY tocsin_cli/ tocsin_cli/
COPY tocsin/ tocsin/
COPY outbound/ outbound/
# Editable: the code stays in /app (with its templates, rules and alembic folders, which are not
# all Python packages) and the venv points at it; the `tocsin` console script comes with it.
RUN /opt/tocsin/bin/pip install --no-compile -e . \
    && find /opt/tocsin /app -name '__pycache__' -prune -exec rm -rf {} +

# -- runtime: slim base, the venv and the code, a non-root user ------------------------------
FROM python:3.11-slim
RUN groupadd --system --gid 10001 tocsin \
    && useradd --system --uid 10001 --gid tocsin --no-create-home --shell /usr/sbin/nologin tocsin
COPY --from=build /opt/tocsin /opt/tocsin
COPY --from=build /app /app
COPY --from=web /web/dist /app/clients/web/dist
ENV PATH=/opt/tocsin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    STATIC_DIR=/app/clients/web/dist/demo
WORKDIR /app
USER tocsin:tocsin
EXPOSE 8000 8001 8002 8003 8080
CMD ["tocsin", "--help"]
