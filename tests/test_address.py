"""Whose address a request comes from: forwarded headers only from trusted proxies."""

from __future__ import annotations

import pytest

from suxi.web.address import client_address

XFF = "x-forwarded-for"


@pytest.mark.parametrize(
    "forged",
    ["1.2.3.4", "1.2.3.4, 5.6.7.8", "127.0.0.1", "garbage", "::1", "10.0.0.1, 10.0.0.2"],
)
def test_without_trusted_proxies_a_forwarded_header_counts_for_nothing(forged):
    assert client_address("203.0.113.9", {XFF: forged}, ()) == "203.0.113.9"


def test_a_trusted_proxy_gives_the_rightmost_untrusted_entry():
    trusted = ("10.0.0.0/8",)
    headers = {XFF: "6.6.6.6, 198.51.100.7, 10.1.1.1"}
    # 6.6.6.6 was written by the visitor; 198.51.100.7 is what our proxy saw.
    assert client_address("10.0.0.2", headers, trusted) == "198.51.100.7"


def test_a_forwarded_header_from_an_untrusted_peer_is_ignored_even_with_proxies_set():
    assert client_address("203.0.113.9", {XFF: "1.1.1.1"}, ("10.0.0.0/8",)) == "203.0.113.9"


def test_garbage_stops_the_walk():
    headers = {XFF: "1.1.1.1, not-an-ip, 10.0.0.5"}
    assert client_address("10.0.0.2", headers, ("10.0.0.0/8",)) == "10.0.0.2"


def test_hugging_face_space_uses_the_rightmost_entry():
    headers = {XFF: "6.6.6.6, 198.51.100.7"}
    assert client_address("10.16.0.3", headers, ("space",)) == "198.51.100.7"
    assert client_address("10.16.0.3", {}, ("space",)) == "10.16.0.3"


def test_mapped_addresses_are_the_same_visitor():
    assert client_address("::ffff:203.0.113.9", {}, ()) == "203.0.113.9"
    assert client_address("[2001:db8::1]", {}, ()) == "2001:db8::1"


def test_a_typo_in_the_setting_trusts_nothing_extra():
    assert client_address("10.0.0.2", {XFF: "1.1.1.1"}, ("10.0.0.0/33",)) == "10.0.0.2"
