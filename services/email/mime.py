"""A multipart/alternative message (plain text + HTML) written straight to bytes.

The email package's generator costs milliseconds per message (it refolds every header and
compiles a regular expression for each random boundary); an email consumer sends thousands.
This writes the same thing directly: header values are single lines (control characters
become spaces), non-ASCII values become RFC 2047 encoded words, both parts are UTF-8
quoted-printable (binascii, in C), and the boundary starts with `=_`, which quoted-printable
text can never contain. The result parses with the standard library (the tests check it).
"""

from __future__ import annotations

import binascii
import re
import uuid
from collections.abc import Sequence
from email.header import Header
from email.utils import formataddr

CRLF = b"\r\n"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header(name: str, value: str) -> bytes:
    """`Name: value` on one logical line, encoded when not ASCII."""
    value = _CONTROL.sub(" ", value).strip()
    if not value.isascii():
        value = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {value}".encode("ascii")


def address(name: str, display_name: str | None, email: str) -> bytes:
    """An address header; `email` must already be a checked ASCII address."""
    display = _CONTROL.sub(" ", display_name or "").strip()
    return f"{name}: {formataddr((display, email), charset='utf-8')}".encode("ascii")


def quoted_printable(text: str) -> bytes:
    normalized = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(normalized).replace(b"\n", CRLF)


def alternative(headers: Sequence[bytes], text: str, html: str) -> bytes:
    """The whole message: `headers`, then a text/plain and a text/html part."""
    boundary = f"=_tocsin_{uuid.uuid4().hex}".encode("ascii")
    parts = [
        *headers,
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/alternative; boundary="' + boundary + b'"',
        b"",
    ]
    for subtype, body in ((b"plain", text), (b"html", html)):
        parts += [
            b"--" + boundary,
            b"Content-Type: text/" + subtype + b'; charset="utf-8"',
            b"Content-Transfer-Encoding: quoted-printable",
            b"",
            quoted_printable(body),
        ]
    parts += [b"--" + boundary + b"--", b""]
    return CRLF.join(parts)
