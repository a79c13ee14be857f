"""The sandbox: seeded activity; fakes faithful to lemlist's and Kit's paging, filters, auth and limits."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from syncd.sandbox import (
    DEMO_KIT_API_KEY,
    DEMO_LEMLIST_API_KEY,
    ExplicitActivity,
    GeneratedActivity,
    Sandbox,
    expected_counts,
    load_events,
    make_kit_subscriber,
    make_lemlist_activity,
)
from syncd.sandbox.lemlist import format_js_date

LONDON = ZoneInfo("Europe/London")
# Wednesday 18 November 2026, 15:00 in London (GMT, so UTC too).
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
LEMLIST_AUTH = {"Authorization": "Basic " + base64.b64encode(f":{DEMO_LEMLIST_API_KEY}".encode()).decode()}
KIT_AUTH = {"X-Kit-Api-Key": DEMO_KIT_API_KEY}


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in November 2026, London time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


def scenario() -> ExplicitActivity:
    """Three sends and a reply on Monday 16 November, one send tomorrow (after NOW); four subscribers."""
    return ExplicitActivity(
        lemlist=[
            make_lemlist_activity("emailsSent", at(16, 9), "alice@acme.io", n=1),
            make_lemlist_activity("emailsSent", at(16, 10), "alice@acme.io", n=2),
            make_lemlist_activity("emailsSent", at(16, 11), "bob@acme.io", n=3, campaign_id="cam_Other"),
            make_lemlist_activity("emailsReplied", at(17, 8, 30), "alice@acme.io", n=4, related_sent_at=at(16, 9)),
            make_lemlist_activity("emailsSent", at(19, 9), "alice@acme.io", n=5),
        ],
        kit=[
            make_kit_subscriber(at(15, 23, 59), id=11, tag_ids=[4101]),
            make_kit_subscriber(at(16, 0, 0), id=12),
            make_kit_subscriber(at(16, 12), id=13, state="cancelled", tag_ids=[4101]),
            make_kit_subscriber(at(17, 7), id=14, tag_ids=[4101]),
        ],
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def explicit(clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with Sandbox(clock=clock, activity=scenario()) as sb:
        yield sb


@pytest.fixture
async def generated(clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=42, clock=clock, history_days=30) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


# --- the generator -------------------------------------------------------------------------------


def test_generation_is_deterministic_per_seed_and_day() -> None:
    a = GeneratedActivity(42, date(2026, 10, 1))
    b = GeneratedActivity(42, date(2026, 10, 1))
    # Drawn from (seed, day) alone: starting a month later changes nothing for the shared days.
    later = GeneratedActivity(42, date(2026, 11, 1))
    other = GeneratedActivity(43, date(2026, 10, 1))
    assert a.lemlist_activities(NOW) == b.lemlist_activities(NOW)
    assert a.kit_subscribers(NOW) == b.kit_subscribers(NOW)
    # Replies count with the day of the email they answer, so compare events drawn from November days.
    drawn_in_nov = [x for x in a.lemlist_activities(NOW) if (x.related_sent_at or x.created_at) >= at(1, 0)]
    assert drawn_in_nov == later.lemlist_activities(NOW)
    assert [s for s in a.kit_subscribers(NOW) if s.created_at >= at(1, 0)] == later.kit_subscribers(NOW)
    assert a.lemlist_activities(NOW) != other.lemlist_activities(NOW)
    # Pinned for seed 42 so an accidental change to the generator shows up here.
    counts = expected_counts(a, until=NOW, zone=LONDON)
    assert counts[("emails_sent", "alice@acme.io", date(2026, 11, 16))] == 22
    assert counts[("emails_sent", "bob@acme.io", date(2026, 11, 16))] == 11
    assert counts[("new_subscribers", "all", date(2026, 11, 16))] == 22


def test_generated_events_never_lie_in_the_future_and_arrive_as_time_passes() -> None:
    g = GeneratedActivity(42, date(2026, 10, 1))
    early, late = g.lemlist_activities(NOW), g.lemlist_activities(NOW + timedelta(hours=2))
    assert max(x.created_at for x in early) <= NOW
    assert max(x.created_at for x in g.kit_subscribers(NOW)) <= NOW
    assert len(late) > len(early)
    assert late[: len(early)] == early


def test_generated_rates_and_hours_look_like_the_demo_team() -> None:
    g = GeneratedActivity(42, date(2026, 8, 3))
    acts = g.lemlist_activities(datetime(2026, 11, 2, tzinfo=UTC))  # 13 weeks: 65 business days
    sent = Counter(x.send_user_email for x in acts if x.type == "emailsSent")
    replies = sum(1 for x in acts if x.type == "emailsReplied")
    assert 20 * 65 <= sent["alice@acme.io"] <= 24 * 65
    assert 10.5 * 65 <= sent["bob@acme.io"] <= 13.5 * 65
    assert 0.05 <= replies / sent.total() <= 0.11
    local = [x.created_at.astimezone(LONDON) for x in acts if x.type == "emailsSent"]
    assert all(7 <= t.hour <= 18 and t.weekday() < 5 for t in local)
    subs = g.kit_subscribers(datetime(2026, 11, 2, tzinfo=UTC))
    per_day = Counter(s.created_at.astimezone(LONDON).date() for s in subs)
    weekday = [per_day[d] for d in per_day if d.weekday() < 5]
    weekend = [per_day[d] for d in per_day if d.weekday() >= 5]
    assert 13 <= sum(weekday) / len(weekday) <= 17
    assert 6 <= sum(weekend) / len(weekend) <= 10


def test_expected_counts_buckets_by_local_day_and_tag() -> None:
    counts = expected_counts(scenario(), until=NOW, zone=LONDON)
    assert counts == {
        ("emails_sent", "alice@acme.io", date(2026, 11, 16)): 2,
        ("emails_sent", "bob@acme.io", date(2026, 11, 16)): 1,
        ("emails_replied", "alice@acme.io", date(2026, 11, 17)): 1,
        ("new_subscribers", "all", date(2026, 11, 15)): 1,
        ("new_subscribers", "4101", date(2026, 11, 15)): 1,
        ("new_subscribers", "all", date(2026, 11, 16)): 2,
        ("new_subscribers", "4101", date(2026, 11, 16)): 1,
        ("new_subscribers", "all", date(2026, 11, 17)): 1,
        ("new_subscribers", "4101", date(2026, 11, 17)): 1,
    }
    # 23:59 London on the 15th is the 16th in Helsinki (UTC+2).
    helsinki = expected_counts(scenario(), until=NOW, zone="Europe/Helsinki", kit_states={"active"})
    assert helsinki[("new_subscribers", "all", date(2026, 11, 16))] == 2
    assert ("new_subscribers", "all", date(2026, 11, 15)) not in helsinki


def test_load_events_fills_in_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(
        json.dumps(
            {
                "lemlist": [{"createdAt": "2026-11-16T09:00:00Z", "sendUserEmail": "bob@acme.io"}],
                "kit": [{"created_at": "2026-11-16T10:00:00+00:00", "tag_ids": [4101]}],
            }
        )
    )
    activity = load_events(path)
    (sent,) = activity.lemlist_activities(NOW)
    assert (sent.type, sent.send_user_id, sent.created_at) == (
        "emailsSent",
        "usr_BobDemo00002",
        datetime(2026, 11, 16, 9, tzinfo=UTC),
    )
    (sub,) = activity.kit_subscribers(NOW)
    assert (sub.id, sub.state, [t.tag_id for t in sub.tags]) == (1001, "active", [4101])


# --- lemlist ---------------------------------------------------------------------------------------


async def test_lemlist_offset_pagination_returns_every_event_once(
    generated: Sandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    url, seen = f"{generated.lemlist_url}/activities", []
    params = {"type": "emailsSent", "minDate": "2026-10-19T00:00:00Z", "maxDate": "2026-11-18T00:00:00Z"}
    offset = 0
    while True:
        r = await http.get(url, params={**params, "limit": 100, "offset": offset}, headers=LEMLIST_AUTH)
        assert r.status_code == 200
        page = r.json()
        seen.extend(page)
        if len(page) < 100:
            break
        offset += 100
        clock.advance(0.2)  # stay under 20 requests per 2 s
    truth = [
        a
        for a in generated.activity.lemlist_activities(NOW)
        if a.type == "emailsSent"
        and datetime(2026, 10, 19, tzinfo=UTC) <= a.created_at < datetime(2026, 11, 18, tzinfo=UTC)
    ]
    assert len(truth) > 300  # more than three pages
    assert [x["_id"] for x in seen] == [a.id for a in truth]
    assert [x["createdAt"] for x in seen] == sorted(x["createdAt"] for x in seen)
    assert set(seen[0]) == {
        "_id", "type", "createdAt", "campaignId", "leadId", "leadEmail",
        "sendUserId", "sendUserEmail", "sendUserMailboxId", "isFirst",
    }  # fmt: skip


async def test_lemlist_item_shape_and_filters(explicit: Sandbox, http: httpx.AsyncClient) -> None:
    url = f"{explicit.lemlist_url}/activities"

    async def ids(**params: str | int) -> list[str]:
        r = await http.get(url, params=params, headers=LEMLIST_AUTH)
        assert r.status_code == 200, r.text
        return [x["_id"] for x in r.json()]

    # The send on the 19th lies after NOW: not served yet.
    assert await ids() == [
        "act_explicit00000001",
        "act_explicit00000002",
        "act_explicit00000003",
        "act_explicit00000004",
    ]
    assert await ids(type="emailsReplied") == ["act_explicit00000004"]
    assert await ids(campaignId="cam_Other") == ["act_explicit00000003"]
    # minDate inclusive, maxDate exclusive; ISO 8601 and unix seconds alike (10:00 GMT = 1794823200).
    assert await ids(minDate="2026-11-16T10:00:00Z", maxDate="2026-11-16T11:00:00Z") == ["act_explicit00000002"]
    assert await ids(minDate=1794823200, maxDate=1794826800) == ["act_explicit00000002"]
    assert await ids(startDate="2026-11-16T10:00:00.001Z", type="emailsSent") == ["act_explicit00000003"]
    assert await ids(limit=2, offset=1) == ["act_explicit00000002", "act_explicit00000003"]

    r = await http.get(url, params={"type": "emailsReplied"}, headers=LEMLIST_AUTH)
    assert r.json() == [
        {
            "_id": "act_explicit00000004",
            "type": "emailsReplied",
            "createdAt": "2026-11-17T08:30:00.000Z",
            "campaignId": "cam_OutboundQ4Demo1",
            "leadId": "lea_explicit00000004",
            "leadEmail": "lead4@prospect.example",
            "sendUserId": "usr_AliceDemo0001",
            "sendUserEmail": "alice@acme.io",
            "sendUserMailboxId": "mbx_AliceDemo0001",
            "isFirst": True,
            "relatedSentAt": "2026-11-16T09:00:00.000Z",
        }
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "101"},
        {"limit": "0"},
        {"offset": "-1"},
        {"minDate": "2026-11-16T10:00:00Z", "maxDate": "2026-11-16T10:00:00Z"},
        {"minDate": "yesterday"},
    ],
)
async def test_lemlist_rejects_bad_parameters(
    explicit: Sandbox, http: httpx.AsyncClient, params: dict[str, str]
) -> None:
    r = await http.get(f"{explicit.lemlist_url}/activities", params=params, headers=LEMLIST_AUTH)
    assert r.status_code == 400
    assert "error" in r.json()


async def test_lemlist_auth(explicit: Sandbox, http: httpx.AsyncClient) -> None:
    team = f"{explicit.lemlist_url}/team"
    assert (await http.get(team, headers=LEMLIST_AUTH)).json()["userIds"] == [
        "usr_AliceDemo0001",
        "usr_BobDemo00002",
    ]
    assert (await http.get(team, params={"access_token": DEMO_LEMLIST_API_KEY})).status_code == 200
    assert (await http.get(team, auth=("", DEMO_LEMLIST_API_KEY))).status_code == 200
    refused = [
        await http.get(team),
        await http.get(team, auth=("", "wrong")),
        await http.get(team, params={"access_token": "wrong"}),
    ]
    for r in refused:
        assert r.status_code == 401
        assert r.json() == {"error": "Unauthorized: invalid API key"}
        assert "X-RateLimit-Remaining" in r.headers
    assert (await http.get(explicit.lemlist_url.removesuffix("/api") + "/_sandbox/health")).json() == {"status": "ok"}


async def test_lemlist_rate_limit_20_per_2_seconds(
    explicit: Sandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    team = f"{explicit.lemlist_url}/team"
    remaining = []
    for _ in range(20):
        r = await http.get(team, headers=LEMLIST_AUTH)
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "20"
        assert r.headers["X-RateLimit-Reset"] == "Wed Nov 18 2026 15:00:02 GMT+0000 (Coordinated Universal Time)"
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(19, -1, -1))
    clock.advance(0.5)
    r = await http.get(team, headers=LEMLIST_AUTH)
    assert r.status_code == 429
    assert (r.headers["Retry-After"], r.headers["X-RateLimit-Remaining"]) == ("2", "0")  # 1.5 s, rounded up
    assert r.headers["X-RateLimit-Reset"] == "Wed Nov 18 2026 15:00:02 GMT+0000 (Coordinated Universal Time)"
    clock.advance(1.5)  # the window opened by the first request closes
    r = await http.get(team, headers=LEMLIST_AUTH)
    assert (r.status_code, r.headers["X-RateLimit-Remaining"]) == (200, "19")


def test_js_date_format() -> None:
    assert format_js_date(datetime(2021, 2, 16, 9, 2, 42, tzinfo=ZoneInfo("Europe/Paris"))) == (
        "Tue Feb 16 2021 08:02:42 GMT+0000 (Coordinated Universal Time)"
    )


# --- Kit ------------------------------------------------------------------------------------------


async def test_kit_cursor_pagination_returns_every_subscriber_once(generated: Sandbox, http: httpx.AsyncClient) -> None:
    url, seen, pages = f"{generated.kit_url}/subscribers", [], 0
    params: dict[str, str | int] = {"status": "all", "per_page": 50, "created_after": "2026-11-01"}
    while True:
        r = await http.get(url, params=params, headers=KIT_AUTH)
        assert r.status_code == 200
        body = r.json()
        pages += 1
        seen.extend(body["subscribers"])
        assert body["pagination"]["per_page"] == 50
        assert body["pagination"]["has_previous_page"] is (pages > 1)
        if not body["pagination"]["has_next_page"]:
            break
        params["after"] = body["pagination"]["end_cursor"]
    truth = [s for s in generated.activity.kit_subscribers(NOW) if s.created_at >= datetime(2026, 11, 1, tzinfo=UTC)]
    assert len(truth) > 200
    assert pages == -(-len(truth) // 50)
    assert [s["id"] for s in seen] == [s.id for s in truth]
    assert set(seen[0]) == {"id", "first_name", "email_address", "state", "created_at", "fields"}


async def test_kit_filters_status_and_shapes(explicit: Sandbox, http: httpx.AsyncClient) -> None:
    url = f"{explicit.kit_url}/subscribers"

    async def ids(**params: str) -> list[int]:
        r = await http.get(url, params=params, headers=KIT_AUTH)
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["subscribers"]]

    assert await ids() == [11, 12, 14]  # status defaults to active
    assert await ids(status="all") == [11, 12, 13, 14]
    assert await ids(status="cancelled") == [13]
    # created_after inclusive, created_before exclusive; a bare date is 00:00 UTC (London is on GMT).
    assert await ids(status="all", created_after="2026-11-16", created_before="2026-11-17") == [12, 13]
    assert await ids(status="all", created_after="2026-11-16T00:00:01Z") == [13, 14]
    r = await http.get(url, params={"per_page": "2", "include_total_count": "true"}, headers=KIT_AUTH)
    assert r.json() == {
        "subscribers": [
            {
                "id": 11,
                "first_name": "Sub",
                "email_address": "subscriber11@example.com",
                "state": "active",
                "created_at": "2026-11-15T23:59:00Z",
                "fields": {},
            },
            {
                "id": 12,
                "first_name": "Sub",
                "email_address": "subscriber12@example.com",
                "state": "active",
                "created_at": "2026-11-16T00:00:00Z",
                "fields": {},
            },
        ],
        "pagination": {
            "has_previous_page": False,
            "has_next_page": True,
            "start_cursor": base64.b64encode(b"[11]").decode(),
            "end_cursor": base64.b64encode(b"[12]").decode(),
            "per_page": 2,
            "total_count": 3,
        },
    }
    back = await http.get(url, params={"before": base64.b64encode(b"[14]").decode(), "per_page": "1"}, headers=KIT_AUTH)
    assert [s["id"] for s in back.json()["subscribers"]] == [12]
    for bad in (
        {"per_page": "1001"},
        {"after": "not-a-cursor"},
        {"status": "gone"},
        {"created_after": "16/11/2026"},
    ):
        assert (await http.get(url, params=bad, headers=KIT_AUTH)).status_code == 422


async def test_kit_tag_subscribers(explicit: Sandbox, http: httpx.AsyncClient) -> None:
    r = await http.get(f"{explicit.kit_url}/tags/4101/subscribers", params={"status": "all"}, headers=KIT_AUTH)
    subs = r.json()["subscribers"]
    assert [(s["id"], s["tagged_at"]) for s in subs] == [
        (11, "2026-11-15T23:59:00Z"),
        (13, "2026-11-16T12:00:00Z"),
        (14, "2026-11-17T07:00:00Z"),
    ]
    r = await http.get(
        f"{explicit.kit_url}/tags/4101/subscribers", params={"tagged_after": "2026-11-16"}, headers=KIT_AUTH
    )
    assert [s["id"] for s in r.json()["subscribers"]] == [14]
    assert (await http.get(f"{explicit.kit_url}/tags/999/subscribers", headers=KIT_AUTH)).status_code == 404


async def test_kit_auth(explicit: Sandbox, http: httpx.AsyncClient) -> None:
    account = f"{explicit.kit_url}/account"
    assert (await http.get(account, headers=KIT_AUTH)).json()["account"]["id"] == 1453000
    for headers in ({}, {"X-Kit-Api-Key": "wrong"}):
        r = await http.get(account, headers=headers)
        assert (r.status_code, r.json()) == (401, {"errors": ["The access token is invalid"]})


async def test_kit_rate_limit_120_per_rolling_minute(
    explicit: Sandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    account = f"{explicit.kit_url}/account"
    for i in range(120):
        assert (await http.get(account, headers=KIT_AUTH)).status_code == 200
        if i == 59:
            clock.advance(30)  # half the requests at t=0, half at t=30
    r = await http.get(account, headers=KIT_AUTH)
    assert r.status_code == 429
    assert "errors" in r.json()
    clock.advance(29.9)  # t=59.9: the first 60 are still inside the rolling minute
    assert (await http.get(account, headers=KIT_AUTH)).status_code == 429
    clock.advance(0.1)  # t=60: the first 60 have left it
    for _ in range(60):
        assert (await http.get(account, headers=KIT_AUTH)).status_code == 200
    assert (await http.get(account, headers=KIT_AUTH)).status_code == 429


# --- ground truth against what is served ----------------------------------------------------------


async def test_ground_truth_matches_served_counts_per_local_day(
    generated: Sandbox, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    served: Counter[tuple[str, str, date]] = Counter()
    for kind, metric in (("emailsSent", "emails_sent"), ("emailsReplied", "emails_replied")):
        offset = 0
        while True:
            params: dict[str, str | int] = {
                "type": kind,
                "minDate": "2026-10-20T00:00:00+01:00",
                "limit": 100,
                "offset": offset,
            }
            r = await http.get(f"{generated.lemlist_url}/activities", params=params, headers=LEMLIST_AUTH)
            for x in r.json():
                day = datetime.fromisoformat(x["createdAt"]).astimezone(LONDON).date()
                served[(metric, x["sendUserEmail"], day)] += 1
            if len(r.json()) < 100:
                break
            offset += 100
            clock.advance(0.2)
    params2: dict[str, str | int] = {
        "status": "all",
        "per_page": 1000,
        "created_after": "2026-10-20T00:00:00+01:00",
    }
    while True:
        body = (await http.get(f"{generated.kit_url}/subscribers", params=params2, headers=KIT_AUTH)).json()
        for s in body["subscribers"]:
            served[("new_subscribers", "all", datetime.fromisoformat(s["created_at"]).astimezone(LONDON).date())] += 1
        if not body["pagination"]["has_next_page"]:
            break
        params2["after"] = body["pagination"]["end_cursor"]

    truth = expected_counts(generated.activity, until=clock.now(), zone=LONDON)
    window = {
        k: v for k, v in truth.items() if k[2] >= date(2026, 10, 20) and k[1] in {"all", "alice@acme.io", "bob@acme.io"}
    }
    assert dict(served) == window
    assert window[("emails_sent", "alice@acme.io", date(2026, 11, 16))] == 22


# --- running standalone ---------------------------------------------------------------------------


def test_module_runs_standalone_and_prints_its_urls() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "syncd.sandbox", "--seed", "7", "--json"], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            urls = json.loads(proc.stdout.readline())
            assert urls["lemlist_url"].endswith("/api")
            assert urls["kit_url"].endswith("/v4")
            r = httpx.get(f"{urls['kit_url']}/account", headers={"X-Kit-Api-Key": urls["kit_api_key"]}, timeout=10)
            assert r.status_code == 200
            r = httpx.get(f"{urls['lemlist_url']}/team", auth=("", urls["lemlist_api_key"]), timeout=10)
            assert r.status_code == 200
        finally:
            proc.terminate()
        assert proc.wait(timeout=10) == 0
