"""The catalogue's fakes beyond lemlist and Kit: how to build each one and where its API root is.

Each fake listens on its own loopback port and serves the vendor's real paths, so a connector
reaches it by `base_url` alone (the API root of CONTRACT §3, with the fake's host and port).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from aiohttp import web

from syncd.clock import Clock
from syncd.sandbox import (
    ahrefs,
    ga4,
    gmail,
    http_json,
    hubspot,
    instantly,
    mailchimp,
    mailerlite,
    mailshake,
    slack,
    stripe,
    x,
)

__all__ = ["VENDORS", "VendorFake", "demo_api_key"]


class _Fake(Protocol):
    def app(self) -> web.Application: ...


@dataclass(frozen=True)
class VendorFake:
    """One vendor's fake: its API root path, its builder and its seeded demo activity."""

    name: str
    api_root: str
    build: Callable[[Sequence[Any], Clock, str], _Fake]
    demo_events: Callable[[int, date, date, ZoneInfo], Sequence[Any]]


def demo_api_key(vendor: str) -> str:
    """Return the sandbox's public demo credential for `vendor` (it opens nothing but the sandbox)."""
    # Mailchimp reads its data centre from the key's suffix, so every demo key carries one.
    return f"demo-{vendor.replace('_', '-')}-key-0000-us1"


def _x(events: Sequence[Any], clock: Clock, api_key: str) -> _Fake:
    # The demo's X token is carol's, the recruiter who sends DMs to candidates.
    return x.XFake(events, clock, api_key, user_id=x.CAROL_X_ID)


VENDORS: dict[str, VendorFake] = {
    fake.name: fake
    for fake in (
        VendorFake("ahrefs", "/v3", ahrefs.AhrefsFake, ahrefs.demo_events),
        VendorFake("gmail", "/gmail/v1", gmail.GmailFake, gmail.demo_events),
        VendorFake("ga4", "/v1beta", ga4.Ga4Fake, ga4.demo_events),
        VendorFake("hubspot", "", hubspot.HubspotFake, hubspot.demo_events),
        VendorFake("http_json", "", http_json.HttpJsonFake, http_json.demo_events),
        VendorFake("instantly", "/api/v2", instantly.InstantlyFake, instantly.demo_events),
        VendorFake("mailchimp", "/3.0", mailchimp.MailchimpFake, mailchimp.demo_events),
        VendorFake("mailerlite", "/api", mailerlite.MailerliteFake, mailerlite.demo_events),
        VendorFake("mailshake", "/2017-04-01", mailshake.MailshakeFake, mailshake.demo_events),
        VendorFake("slack", "/api", slack.SlackFake, slack.demo_events),
        VendorFake("stripe", "/v1", stripe.StripeFake, stripe.demo_events),
        VendorFake("x", "/2", _x, x.demo_events),
    )
}
