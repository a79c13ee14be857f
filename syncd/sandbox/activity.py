"""The demo team's activity: seeded, per-day, reproducible events the fake servers serve.

Every day's events come from a generator seeded with `(seed, day)` alone, so any day can be
rebuilt without the days before it and two runs with one seed serve byte-identical data.
Events are only ever served up to the clock's "now": the activity arrives as time passes.
Tests that need exact scenarios hand in explicit events (`ExplicitActivity`, `load_events`).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

__all__ = [
    "DEMO_TEAM",
    "ActivitySource",
    "DemoTeam",
    "ExplicitActivity",
    "GeneratedActivity",
    "KitSubscriber",
    "KitTagging",
    "LemlistActivity",
    "LemlistType",
    "Sender",
    "expected_counts",
    "load_events",
    "make_kit_subscriber",
    "make_lemlist_activity",
]

LemlistType = Literal["emailsSent", "emailsReplied"]

# Relative weights of each local hour: outreach goes out in office hours with a morning and an
# afternoon peak; sign-ups come from readers, evenings included, few at night.
_EMAIL_HOURS = (0, 0, 0, 0, 0, 0, 0, 1, 4, 8, 9, 7, 4, 5, 7, 8, 6, 3, 1, 0, 0, 0, 0, 0)
_SIGNUP_HOURS = (1, 1, 0, 0, 0, 1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 6, 6, 6, 7, 8, 8, 6, 4, 2)
_FIRST_NAMES = ("Ava", "Ben", "Chloe", "Dan", "Ella", "Finn", "Grace", "Hugo", "Isla", "Jack", "Lena", "Omar")
_COMPANIES = ("northwind", "globex", "initech", "umbrella", "hooli", "vandelay", "wonka", "stark")


@dataclass(frozen=True)
class Sender:
    """A lemlist user sending outreach, and how much they send."""

    name: str
    email: str
    user_id: str
    mailbox_id: str
    sends_per_business_day: float
    sends_noise: float
    # None: the team's reply rate. A sender of their own makes the funnel's best converter clear.
    reply_rate: float | None = None


@dataclass(frozen=True)
class DemoTeam:
    """Who the demo team is and the rates their activity is drawn from."""

    team_id: str
    name: str
    senders: tuple[Sender, ...]
    campaign_ids: tuple[str, ...]
    reply_rate: float
    kit_account_id: int
    kit_tag_id: int
    kit_tag_name: str
    kit_tag_share: float
    subscribers_per_weekday: float
    subscribers_per_weekend_day: float
    cancelled_share: float

    def sender(self, email: str) -> Sender:
        """Return the sender with this email, or a made-up one for a stranger's address."""
        for s in self.senders:
            if s.email == email:
                return s
        slug = email.split("@", 1)[0]
        return Sender(slug, email, f"usr_{slug}", f"mbx_{slug}", 0.0, 0.0)


DEMO_TEAM = DemoTeam(
    team_id="tea_AcmeDemo0001",
    name="Acme",
    senders=(
        # alice sends steadily a little above her 400/month curve and gets few replies; bob's ~12/day
        # leaves him slipping behind his 390 but his emails convert best (the funnel's benchmark).
        Sender("alice", "alice@acme.io", "usr_AliceDemo0001", "mbx_AliceDemo0001", 22.0, 3.0, 0.065),
        Sender("bob", "bob@acme.io", "usr_BobDemo00002", "mbx_BobDemo00002", 12.0, 2.5, 0.13),
    ),
    campaign_ids=("cam_OutboundQ4Demo1", "cam_FollowUpDemo02"),
    reply_rate=0.08,
    kit_account_id=1453000,
    kit_tag_id=4101,
    kit_tag_name="newsletter",
    kit_tag_share=0.6,
    subscribers_per_weekday=15.0,
    subscribers_per_weekend_day=8.0,
    cancelled_share=0.05,
)


@dataclass(frozen=True)
class LemlistActivity:
    """One lemlist activity as the fake serves it (`created_at` has millisecond precision)."""

    id: str
    type: LemlistType
    created_at: datetime
    campaign_id: str
    lead_id: str
    lead_email: str
    send_user_id: str
    send_user_email: str
    send_user_mailbox_id: str
    is_first: bool
    related_sent_at: datetime | None = None


@dataclass(frozen=True)
class KitTagging:
    """A tag on a Kit subscriber and when it was applied."""

    tag_id: int
    tagged_at: datetime


@dataclass(frozen=True)
class KitSubscriber:
    """One Kit subscriber as the fake serves it (`created_at` has second precision)."""

    id: int
    first_name: str
    email_address: str
    state: str
    created_at: datetime
    tags: tuple[KitTagging, ...] = field(default=())


class ActivitySource(Protocol):
    """Where the fakes read events from."""

    def lemlist_activities(self, until: datetime) -> Sequence[LemlistActivity]:
        """Return every activity created at or before `until`, oldest first."""
        ...

    def kit_subscribers(self, until: datetime) -> Sequence[KitSubscriber]:
        """Return every subscriber created at or before `until`, by ascending id."""
        ...


class ExplicitActivity:
    """A fixed list of events, for exact end-to-end scenarios."""

    def __init__(self, lemlist: Iterable[LemlistActivity] = (), kit: Iterable[KitSubscriber] = ()) -> None:
        self._lemlist = sorted(lemlist, key=lambda a: (a.created_at, a.id))
        self._kit = sorted(kit, key=lambda s: s.id)

    def lemlist_activities(self, until: datetime) -> Sequence[LemlistActivity]:
        """Return every activity created at or before `until`, oldest first."""
        return [a for a in self._lemlist if a.created_at <= until]

    def kit_subscribers(self, until: datetime) -> Sequence[KitSubscriber]:
        """Return every subscriber created at or before `until`, by ascending id."""
        return [s for s in self._kit if s.created_at <= until]


class GeneratedActivity:
    """The demo team's activity drawn day by day from `(seed, day)`, from `first_day` on.

    Days are local days of `zone`. Nobody sends outreach at weekends; Kit sign-ups slow down.
    A reply belongs to the day of the email it answers (so it is drawn with that day) but is
    served at its own `createdAt`, which may be a later day.
    """

    def __init__(
        self, seed: int, first_day: date, zone: ZoneInfo | str = "Europe/London", team: DemoTeam = DEMO_TEAM
    ) -> None:
        self.seed = seed
        self.first_day = first_day
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self.team = team
        # Keyed by the last local day drawn: the fakes ask for "up to now" over and over.
        self._lemlist_upto: dict[date, list[LemlistActivity]] = {}
        self._kit_upto: dict[date, list[KitSubscriber]] = {}

    def lemlist_activities(self, until: datetime) -> Sequence[LemlistActivity]:
        """Return every activity created at or before `until`, oldest first."""
        last = until.astimezone(self.zone).date()
        drawn = self._lemlist_upto.get(last)
        if drawn is None:
            drawn = sorted(
                (a for d in self._days(last) for a in self._lemlist_day(d)),
                key=lambda a: (a.created_at, a.id),
            )
            self._lemlist_upto = {last: drawn}
        return [a for a in drawn if a.created_at <= until]

    def kit_subscribers(self, until: datetime) -> Sequence[KitSubscriber]:
        """Return every subscriber created at or before `until`, by ascending id."""
        last = until.astimezone(self.zone).date()
        drawn = self._kit_upto.get(last)
        if drawn is None:
            drawn = [s for d in self._days(last) for s in self._kit_day(d)]
            self._kit_upto = {last: drawn}
        return [s for s in drawn if s.created_at <= until]

    def _days(self, last: date) -> Iterable[date]:
        day = self.first_day
        while day <= last:
            yield day
            day += timedelta(days=1)

    def _rng(self, stream: str, day: date) -> random.Random:
        # A string seed is hashed with SHA-512, so it is stable across processes and PYTHONHASHSEED.
        return random.Random(f"{self.seed}:{stream}:{day.isoformat()}")

    def _instant(self, rng: random.Random, day: date, hours: Sequence[int], ms: bool) -> datetime:
        hour = rng.choices(range(24), weights=hours)[0]
        local = datetime.combine(day, time(hour), tzinfo=self.zone)
        offset = timedelta(seconds=rng.randrange(3600), milliseconds=rng.randrange(1000) if ms else 0)
        return (local + offset).astimezone(UTC)

    def _lemlist_day(self, day: date) -> list[LemlistActivity]:
        if day.weekday() >= 5:
            return []
        rng = self._rng("lemlist", day)
        out: list[LemlistActivity] = []
        for sender in self.team.senders:
            sends = max(0, round(rng.gauss(sender.sends_per_business_day, sender.sends_noise)))
            for _ in range(sends):
                at = self._instant(rng, day, _EMAIL_HOURS, ms=True)
                lead_id, lead_email = f"lea_{rng.getrandbits(64):016x}", _lead_email(rng)
                campaign = rng.choice(self.team.campaign_ids)
                sent = LemlistActivity(
                    id=f"act_{rng.getrandbits(80):020x}",
                    type="emailsSent",
                    created_at=at,
                    campaign_id=campaign,
                    lead_id=lead_id,
                    lead_email=lead_email,
                    send_user_id=sender.user_id,
                    send_user_email=sender.email,
                    send_user_mailbox_id=sender.mailbox_id,
                    is_first=rng.random() < 0.4,
                )
                out.append(sent)
                reply_rate = self.team.reply_rate if sender.reply_rate is None else sender.reply_rate
                if rng.random() < reply_rate:
                    delay = timedelta(minutes=rng.randrange(20, 30 * 60), milliseconds=rng.randrange(1000))
                    reply_id = f"act_{rng.getrandbits(80):020x}"
                    out.append(
                        LemlistActivity(
                            id=reply_id,
                            type="emailsReplied",
                            created_at=at + delay,
                            campaign_id=campaign,
                            lead_id=lead_id,
                            lead_email=lead_email,
                            send_user_id=sender.user_id,
                            send_user_email=sender.email,
                            send_user_mailbox_id=sender.mailbox_id,
                            is_first=True,
                            related_sent_at=at,
                        )
                    )
        return out

    def _kit_day(self, day: date) -> list[KitSubscriber]:
        rng = self._rng("kit", day)
        team = self.team
        mean = team.subscribers_per_weekday if day.weekday() < 5 else team.subscribers_per_weekend_day
        count = min(999, max(0, round(rng.gauss(mean, mean * 0.25))))
        instants = sorted(self._instant(rng, day, _SIGNUP_HOURS, ms=False) for _ in range(count))
        out: list[KitSubscriber] = []
        for index, at in enumerate(instants):
            first = rng.choice(_FIRST_NAMES)
            tagged = rng.random() < team.kit_tag_share
            cancelled = rng.random() < team.cancelled_share
            out.append(
                KitSubscriber(
                    # Ids grow with creation time, as a real account's do: the day, then the order.
                    id=day.toordinal() * 1000 + index,
                    first_name=first,
                    email_address=f"{first.lower()}.{rng.getrandbits(32):08x}@example.com",
                    state="cancelled" if cancelled else "active",
                    created_at=at,
                    # Sign-up forms tag on subscription, so the tag lands the same second.
                    tags=(KitTagging(team.kit_tag_id, at),) if tagged else (),
                )
            )
        return out


def _lead_email(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES).lower()}{rng.randrange(100)}@{rng.choice(_COMPANIES)}.example"


def expected_counts(
    activity: ActivitySource,
    *,
    until: datetime,
    zone: ZoneInfo | str,
    kit_states: Collection[str] | None = None,
) -> dict[tuple[str, str, date], int]:
    """Count what the fakes serve up to `until`, keyed `(metric, subject, local day)` in `zone`.

    Metrics follow the contract: `emails_sent` / `emails_replied` by `sendUserEmail`;
    `new_subscribers` by `all` (every subscriber, by `created_at`) and by tag id (by `tagged_at`).
    `kit_states` keeps only subscribers in those states (None: every state, like `status=all`).
    """
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    counts: dict[tuple[str, str, date], int] = {}

    def add(metric: str, subject: str, at: datetime) -> None:
        key = (metric, subject, at.astimezone(tz).date())
        counts[key] = counts.get(key, 0) + 1

    for a in activity.lemlist_activities(until):
        add("emails_sent" if a.type == "emailsSent" else "emails_replied", a.send_user_email, a.created_at)
    for s in activity.kit_subscribers(until):
        if kit_states is not None and s.state not in kit_states:
            continue
        add("new_subscribers", "all", s.created_at)
        for t in s.tags:
            if t.tagged_at <= until:
                add("new_subscribers", str(t.tag_id), t.tagged_at)
    return counts


def _to_millis(at: datetime) -> datetime:
    # lemlist serves milliseconds; storing more would make filters disagree with what is served.
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def make_lemlist_activity(
    type: LemlistType,
    created_at: datetime,
    sender_email: str,
    *,
    n: int,
    team: DemoTeam = DEMO_TEAM,
    campaign_id: str | None = None,
    related_sent_at: datetime | None = None,
) -> LemlistActivity:
    """Build one activity for an explicit scenario; `n` makes its ids unique."""
    sender = team.sender(sender_email)
    return LemlistActivity(
        id=f"act_explicit{n:08d}",
        type=type,
        created_at=_to_millis(created_at),
        campaign_id=campaign_id or team.campaign_ids[0],
        lead_id=f"lea_explicit{n:08d}",
        lead_email=f"lead{n}@prospect.example",
        send_user_id=sender.user_id,
        send_user_email=sender.email,
        send_user_mailbox_id=sender.mailbox_id,
        is_first=True,
        related_sent_at=_to_millis(related_sent_at) if related_sent_at else None,
    )


def make_kit_subscriber(
    created_at: datetime, *, id: int, state: str = "active", tag_ids: Iterable[int] = ()
) -> KitSubscriber:
    """Build one subscriber for an explicit scenario, tagged at its creation instant."""
    # Kit serves whole seconds; storing more would make filters disagree with what is served.
    at = created_at.astimezone(UTC).replace(microsecond=0)
    return KitSubscriber(
        id=id,
        first_name="Sub",
        email_address=f"subscriber{id}@example.com",
        state=state,
        created_at=at,
        tags=tuple(KitTagging(t, at) for t in tag_ids),
    )


class _LemlistEventSpec(BaseModel):
    # camelCase: the vendor's field names, so an events file reads like lemlist's own JSON.
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: LemlistType = "emailsSent"
    createdAt: AwareDatetime
    sendUserEmail: str
    campaignId: str | None = None
    relatedSentAt: AwareDatetime | None = None


class _KitEventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int | None = None
    created_at: AwareDatetime
    state: str = "active"
    tag_ids: list[int] = []


class _EventsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lemlist: list[_LemlistEventSpec] = []
    kit: list[_KitEventSpec] = []


def load_events(path: Path, team: DemoTeam = DEMO_TEAM) -> ExplicitActivity:
    """Read explicit events from a JSON file.

    The file looks like `{"lemlist": [{"type": "emailsSent", "createdAt": "2026-11-02T09:00:00Z",
    "sendUserEmail": "alice@acme.io"}], "kit": [{"created_at": "2026-11-02T10:00:00Z",
    "tag_ids": [4101]}]}`; every other field is filled in. Timestamps must carry an offset.
    """
    spec = _EventsFile.model_validate_json(path.read_text(encoding="utf-8"))
    lemlist = [
        make_lemlist_activity(
            e.type,
            e.createdAt,
            e.sendUserEmail,
            n=n,
            team=team,
            campaign_id=e.campaignId,
            related_sent_at=e.relatedSentAt,
        )
        for n, e in enumerate(spec.lemlist, start=1)
    ]
    kit = [
        make_kit_subscriber(e.created_at, id=e.id or 1000 + n, state=e.state, tag_ids=e.tag_ids)
        for n, e in enumerate(spec.kit, start=1)
    ]
    return ExplicitActivity(lemlist, kit)
