"""Renders a notification into an email's subject, plain-text and HTML parts (Jinja2).

Templates live in `templates/` (and, first, in the folder of setting TEMPLATES_DIR when set).
A template set is three files with one base name: `<name>.subject.txt`, `<name>.txt` and
`<name>.html` (HTML is autoescaped, text and subject are not). For a notification of type T
to a recipient with locale `ll-RR` the first set that exists wins:
`ll-RR/T`, `ll/T`, `ll-RR/default`, `ll/default`, `T`, `default`.
So a translated generic template is preferred to an untranslated specific one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import jinja2

from contracts.links import allowed_hosts, is_safe_link
from contracts.notifications import NotificationData, Recipient

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_NAME = "default"
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
_WHITESPACE = re.compile(r"\s+")


class TemplateFailure(Exception):
    """A template could not be rendered (a bug in a template, not a transient problem)."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    template: str


@dataclass(frozen=True)
class Renderer:
    environment: jinja2.Environment
    app_url: str
    link_hosts: frozenset[str] = frozenset()
    """Hosts an absolute entity_url may name besides APP_URL's own (ENTITY_URL_ALLOWED_HOSTS)."""
    _sets: dict[tuple[str, str | None], str] = field(default_factory=dict, compare=False)

    @classmethod
    def create(
        cls, app_url: str, extra_dir: str | None = None, link_hosts: frozenset[str] = frozenset()
    ) -> Renderer:
        folders = [Path(extra_dir)] if extra_dir else []
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*folders, BUILTIN_TEMPLATES]),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        app_host = allowed_hosts([urlsplit(app_url).hostname or ""])
        return cls(environment=environment, app_url=app_url, link_hosts=link_hosts | app_host)

    def template_set(self, notification_type: str, locale: str | None) -> str:
        """Base name of the template set used for this type and locale (looked up once)."""
        key = (notification_type, locale)
        if key not in self._sets:
            self._sets[key] = self._find_set(notification_type, locale)
        return self._sets[key]

    def _find_set(self, notification_type: str, locale: str | None) -> str:
        available = set(self.environment.list_templates(extensions=["html"]))
        for name in candidates(notification_type, locale):
            if f"{name}.html" in available:
                return name
        return DEFAULT_NAME

    def render(
        self, notification: NotificationData, recipient: Recipient, unsubscribe_url: str
    ) -> RenderedEmail:
        """Raises TemplateFailure when a template is broken."""
        name = self.template_set(notification.type, recipient.locale)
        context = {
            "notification": notification,
            "recipient": recipient,
            "unsubscribe_url": unsubscribe_url,
            "link": self.absolute_link(notification.entity_url),
            "app_url": self.app_url,
            "priority_label": notification.priority.value.upper(),
            "lang": language_of(recipient.locale) or "en",
        }
        try:
            subject = self.environment.get_template(f"{name}.subject.txt").render(context)
            text = self.environment.get_template(f"{name}.txt").render(context)
            html = self.environment.get_template(f"{name}.html").render(context)
        except jinja2.TemplateError as exc:
            raise TemplateFailure(f"template {name!r}: {exc}") from exc
        return RenderedEmail(
            subject=_WHITESPACE.sub(" ", subject).strip()[:250], text=text, html=html, template=name
        )

    def absolute_link(self, entity_url: str | None) -> str | None:
        """The entity URL resolved against APP_URL, or None (the email shows no link) unless it
        is a safe link (`contracts.links`): a relative path, or http(s) on APP_URL's host or an
        allowed host. A forged event's `javascript:` or `//evil.example` never becomes a button.
        """
        if not entity_url or not is_safe_link(entity_url, self.link_hosts):
            return None
        absolute = urljoin(self.app_url.rstrip("/") + "/", entity_url)
        return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def language_of(locale: str | None) -> str | None:
    if not locale or not _LOCALE.match(locale):
        return None
    return locale.replace("_", "-").split("-")[0].lower()


def candidates(notification_type: str, locale: str | None) -> list[str]:
    names: list[str] = []
    if locale and _LOCALE.match(locale):
        full = locale.replace("_", "-")
        language = language_of(locale)
        prefixes = [full] if full.lower() == language else [full, language]
        names += [f"{prefix}/{notification_type}" for prefix in prefixes]
        names += [f"{prefix}/{DEFAULT_NAME}" for prefix in prefixes]
    names += [notification_type, DEFAULT_NAME]
    return names
