"""Which email addresses a subscriber may have: ones a mail server can deliver to.

Checked where addresses enter (`PUT /subscribers`), so an address such as `0@0` is refused with
422 `invalid_email` instead of dead-lettering every mail sent to it. The rules are RFC 5321's
practical subset: a dot-atom local part of at most 64 ASCII characters, and a domain name (IDNA
allowed) of at least two labels, each 1-63 letters, digits or inner hyphens, the last one not
all digits; no IP literals, no quoted local parts; at most 254 characters in all.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

INVALID_EMAIL = "invalid_email"
ADDRESS_MAX = 254
LOCAL_MAX = 64

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def deliverable(address: str) -> str:
    """`address` with its domain in ASCII (IDNA) form; raises PydanticCustomError
    `invalid_email` (a 422 with that code) when no mail server could deliver to it."""
    local, at, domain = address.rpartition("@")
    reason = _problem(local, domain) if at else "needs an @"
    if reason is None:
        ascii_domain = _ascii(domain)
        if ascii_domain is None:
            reason = "has a domain that is not a valid host name"
        else:
            reason = _domain_problem(ascii_domain)
            address = f"{local}@{ascii_domain.removesuffix('.')}"
    if reason is None and len(address) > ADDRESS_MAX:
        reason = f"is longer than {ADDRESS_MAX} characters"
    if reason is not None:
        raise PydanticCustomError(INVALID_EMAIL, "not a deliverable email address: it {reason}",
                                  {"reason": reason})  # fmt: skip
    return address


def _problem(local: str, domain: str) -> str | None:
    if not local or len(local) > LOCAL_MAX or not _LOCAL.match(local):
        return f"needs a local part of 1-{LOCAL_MAX} letters, digits, dots or !#$%&'*+/=?^_`{{|}}~-"
    if not domain:
        return "needs a domain"
    return None


def _ascii(domain: str) -> str | None:
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def _domain_problem(domain: str) -> str | None:
    labels = domain.removesuffix(".").split(".")
    if len(labels) < 2:
        return "needs a domain with at least two labels (example.com)"
    if not all(_LABEL.match(label) for label in labels):
        return "has a domain label that is not 1-63 letters, digits or inner hyphens"
    if labels[-1].isdigit():
        return "has a numeric top-level domain (IP addresses are not accepted)"
    return None


EmailAddress = Annotated[str, AfterValidator(deliverable)]
