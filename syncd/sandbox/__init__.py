"""The built-in sandbox: loopback fakes of lemlist and Kit serving a demo team's seeded activity.

`syncd demo` and the end-to-end tests start it; connectors reach it through `base_url`.
"""

from syncd.sandbox.activity import (
    DEMO_TEAM,
    ActivitySource,
    DemoTeam,
    ExplicitActivity,
    GeneratedActivity,
    KitSubscriber,
    KitTagging,
    LemlistActivity,
    Sender,
    expected_counts,
    load_events,
    make_kit_subscriber,
    make_lemlist_activity,
)
from syncd.sandbox.server import DEMO_KIT_API_KEY, DEMO_LEMLIST_API_KEY, Sandbox

__all__ = [
    "DEMO_KIT_API_KEY",
    "DEMO_LEMLIST_API_KEY",
    "DEMO_TEAM",
    "ActivitySource",
    "DemoTeam",
    "ExplicitActivity",
    "GeneratedActivity",
    "KitSubscriber",
    "KitTagging",
    "LemlistActivity",
    "Sandbox",
    "Sender",
    "expected_counts",
    "load_events",
    "make_kit_subscriber",
    "make_lemlist_activity",
]
