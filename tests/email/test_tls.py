"""SMTP over STARTTLS with credentials, and over implicit TLS, with the server's certificate
checked against a CA file (a real aiosmtpd server with a self-signed certificate)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contracts.events import NotificationCreated
from services.email.composition import Composer
from services.email.rendering import Renderer
from services.email.settings import SmtpSecurity
from services.email.smtp import SmtpOptions, SmtpPool, SmtpTransient
from tests.email.smtp_server import ScriptedSmtp
from tests.support.email_consumer import created_event
from tests.support.infra import free_port

USER, PASSWORD = "tocsin", "s3cret"

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(params=[SmtpSecurity.STARTTLS, SmtpSecurity.TLS])
def tls_server(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[tuple[ScriptedSmtp, SmtpSecurity]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    handler = ScriptedSmtp(port=free_port())
    security: SmtpSecurity = request.param
    if security is SmtpSecurity.STARTTLS:
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=handler.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
        )
    else:
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=handler.port,
            ssl_context=context,
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=False,  # aiosmtpd does not see implicit TLS as TLS; it is
        )
    controller.start()
    try:
        yield handler, security
    finally:
        controller.stop()


def message() -> Any:
    event = created_event(email="tls@example.test")
    data = event.data_as(NotificationCreated)
    composer = Composer(
        Renderer.create("https://app.test"),
        "T <t@tocsin.test>",
        "tocsin.test",
        "https://api.test",
        "secret",
    )
    return composer.compose(event, data.notification, data.recipient)


def tls_pool(
    tls_server: tuple[ScriptedSmtp, SmtpSecurity], certificate: tuple[Path, Path], password: str
) -> SmtpPool:
    """A pool for the test server: its security mode, the test user, and its CA checked."""
    handler, security = tls_server
    return SmtpPool(
        SmtpOptions(
            host="127.0.0.1",
            port=handler.port,
            security=security,
            username=USER,
            password=password,
            ca_file=str(certificate[0]),
            timeout_s=10,
        )
    )


async def test_sends_over_tls_with_credentials_and_a_checked_certificate(
    tls_server: tuple[ScriptedSmtp, SmtpSecurity], certificate: tuple[Path, Path]
) -> None:
    handler, _ = tls_server
    pool = tls_pool(tls_server, certificate, PASSWORD)
    try:
        await pool.send(message())
    finally:
        await pool.close()
    assert len(handler.to("tls@example.test")) == 1


async def test_wrong_password_is_retried_not_dead_lettered(
    tls_server: tuple[ScriptedSmtp, SmtpSecurity], certificate: tuple[Path, Path]
) -> None:
    handler, _ = tls_server
    pool = tls_pool(tls_server, certificate, "wrong")
    with pytest.raises(SmtpTransient) as failure:
        await pool.send(message())
    assert failure.value.code == 535
    assert handler.messages() == []
