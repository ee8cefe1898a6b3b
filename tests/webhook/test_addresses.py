"""Which addresses a webhook may reach, and signatures any Standard Webhooks library accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from outbound.addresses import BlockedAddress, check_address, validate_url
from outbound.transport import parse_retry_after
from services.webhook.signing import generate_secret, signed_headers

REFUSED = [
    "127.0.0.1",
    "127.8.9.1",
    "::1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.10.10",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "239.1.2.3",
    "240.0.0.1",
    "fc00::1",
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "169.254.169.254",
    "fd00:ec2::254",
    "192.0.2.1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_are_refused(address: str) -> None:
    with pytest.raises(BlockedAddress):
        check_address(address, allow_private=False)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_global_addresses_are_allowed(address: str) -> None:
    check_address(address, allow_private=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "::1", "100.64.0.1"])
def test_private_addresses_are_allowed_when_the_setting_says_so(address: str) -> None:
    check_address(address, allow_private=True)


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "0.0.0.0", "224.0.0.1"])
def test_metadata_unspecified_and_multicast_stay_refused_even_when_private_is_allowed(
    address: str,
) -> None:
    with pytest.raises(BlockedAddress):
        check_address(address, allow_private=True)


def test_local_names_are_refused_before_any_lookup() -> None:
    for url in ("http://localhost/x", "http://api.localhost/", "https://printer.local/"):
        with pytest.raises(BlockedAddress):
            validate_url(url, allow_private=False)
    validate_url("http://localhost:8080/x", allow_private=True)


def test_signatures_verify_with_the_reference_library() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    body = '{"type":"notification.created","data":{"title":"é ✓"}}'.encode()
    timestamp = int(datetime.now(UTC).timestamp())
    headers = signed_headers([secret], "evt-1", timestamp, body)

    assert Webhook(secret).verify(body, headers)["data"]["title"] == "é ✓"
    assert headers["webhook-signature"] == Webhook(secret).sign(
        "evt-1", datetime.fromtimestamp(timestamp, UTC), body.decode()
    )


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
