"""Reading docker-compose.yml and the gateway's nginx template the way Docker and nginx would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from tocsin_cli.gateway import TEMPLATE, render

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
_DEFAULTED = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")
_REQUIRED = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]*\}")
# What a person sets for the required variables (`${VAR:?message}`) before `docker compose up`.
REQUIRED_VALUE = "a-random-value-of-at-least-32-characters"


CLUSTER_FILE = REPO_ROOT / "docker-compose.cluster.yml"


def load_compose(*overrides: Path) -> dict[str, Any]:
    """docker-compose.yml, with each override file applied as `docker compose -f ... -f ...`
    applies it."""
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    for path in overrides:
        override = yaml.safe_load(path.read_text())
        assert isinstance(override, dict)
        data = merge(data, override)
    return data


def merge(base: Any, override: Any, key: str = "") -> Any:
    """Compose's merge of an override: mappings merge key by key, `volumes` and `ports` add
    their entries, any other value is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge(base[name], value, name) if name in base else value
        return merged
    if key in ("volumes", "ports") and isinstance(base, list) and isinstance(override, list):
        return base + [entry for entry in override if entry not in base]
    return override


def interpolate(value: object) -> str:
    """`${VAR:-default}` → default (what compose uses when VAR is not set); `${VAR:?message}`
    → REQUIRED_VALUE (compose refuses to start without it)."""
    return _REQUIRED.sub(REQUIRED_VALUE, _DEFAULTED.sub(lambda m: m.group(2), str(value)))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): interpolate(v) for k, v in env.items()}


def env_names(settings_class: type[BaseSettings]) -> set[str]:
    """Upper-case environment variable names that `settings_class` reads."""
    prefix = str(settings_class.model_config.get("env_prefix", "") or "")
    names: set[str] = set()
    for name, field in settings_class.model_fields.items():
        aliases: list[str] = []
        if isinstance(field.validation_alias, str):
            aliases.append(field.validation_alias)
        elif isinstance(field.validation_alias, AliasChoices):
            aliases.extend(c for c in field.validation_alias.choices if isinstance(c, str))
        if field.alias:
            aliases.append(field.alias)
        names.update(a.upper() for a in aliases)
        if not aliases:
            names.add(f"{prefix}{name}".upper())
    return names


def nginx_upstreams(conf: str) -> dict[str, list[tuple[str, int]]]:
    """upstream name → [(host, port)] from an nginx config."""
    upstreams: dict[str, list[tuple[str, int]]] = {}
    for match in re.finditer(r"upstream\s+(\S+)\s*\{(.*?)\}", conf, re.S):
        servers = re.findall(r"(?:^|;)\s*server\s+([\w.-]+):(\d+)", match.group(2), re.M)
        upstreams[match.group(1)] = [(h, int(p)) for h, p in servers]
    return upstreams


def gateway_config(compose: dict[str, Any]) -> str:
    """The nginx config the compose gateway runs: the one template, rendered with the
    gateway's GATEWAY_* variables, as the nginx image's envsubst does."""
    env = environment(compose["services"]["gateway"])
    return render(TEMPLATE.read_text(), {k: v for k, v in env.items() if k.startswith("GATEWAY_")})
