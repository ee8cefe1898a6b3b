"""Which addresses a webhook may reach, and signatures any Standard Webhooks library accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from outbound.addresses import (
    NO_PRIVATE_TARGETS,
    BlockedAddress,
    PrivateTargets,
    check_address,
    validate_url,
)
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
        check_address(address, 80, NO_PRIVATE_TARGETS)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_global_addresses_are_allowed(address: str) -> None:
    check_address(address, 443, NO_PRIVATE_TARGETS)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "::1", "100.64.0.1"])
def test_only_the_listed_private_address_and_port_are_allowed(address: str) -> None:
    entry = f"[{address}]:9999" if ":" in address else f"{address}:9999"
    targets = PrivateTargets.parse([entry])
    check_address(address, 9999, targets)
    with pytest.raises(BlockedAddress):
        check_address(address, 9998, targets)


def test_a_listed_target_on_a_reserved_port_stays_refused() -> None:
    targets = PrivateTargets.parse(["127.0.0.1:8000", "127.0.0.1:9999"], reserved_ports={8000})
    with pytest.raises(BlockedAddress):
        check_address("127.0.0.1", 8000, targets)
    check_address("127.0.0.1", 9999, targets)


@pytest.mark.parametrize("entry", ["127.0.0.1", "localhost:9999", "127.0.0.1:0", "1.2.3.4:x"])
def test_malformed_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        PrivateTargets.parse([entry])


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "0.0.0.0", "224.0.0.1"])
def test_metadata_unspecified_and_multicast_stay_refused_even_when_listed(
    address: str,
) -> None:
    entry = f"[{address}]:80" if ":" in address else f"{address}:80"
    with pytest.raises(BlockedAddress):
        check_address(address, 80, PrivateTargets.parse([entry]))


def test_local_names_are_refused_before_any_lookup() -> None:
    listed = PrivateTargets.parse(["127.0.0.1:8080"])
    for url in ("http://localhost/x", "http://api.localhost/", "https://printer.local/"):
        for targets in (NO_PRIVATE_TARGETS, listed):
            with pytest.raises(BlockedAddress):
                validate_url(url, targets)
    validate_url("http://127.0.0.1:8080/x", listed)


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
