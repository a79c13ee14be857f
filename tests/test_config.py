"""Configuration loading: the contract's keys, interpolation, and one line per problem."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from syncd.config import load_config, parse_config
from syncd.errors import ConfigError
from syncd.model import CustomWeightsSpec, FixedPeriodSpec, RecurringPeriodSpec

ENV = {"LEMLIST_API_KEY": "lem-secret-123456", "KIT_API_KEY": "kit-secret-654321"}

BASE = """
timezone: Europe/London
holidays: [2026-12-25]
teams:
  growth: {head: maya}
people:
  maya: {team: growth}
  alice:
    team: growth
    identities: {lemlist: alice@acme.io}
  bob:
    team: growth
    identities: {lemlist: [bob@acme.io, robert@acme.io]}
sources:
  lemlist:
    connector: lemlist
    api_key: ${LEMLIST_API_KEY}
    interval: 15m
    lookback: 3d
  kit:
    connector: kit
    api_key: ${KIT_API_KEY}
    interval: 1h
kpis:
  outreach_emails_sent:
    source: lemlist
    metric: emails_sent
    per_person: true
  newsletter_optins:
    source: kit
    metric: new_subscribers
goals:
  - kpi: outreach_emails_sent
    owner: alice
    period: month
    target: 400
  - kpi: outreach_emails_sent
    owner: bob
    period: month
    committed: 300
    stretch: 0.30
  - kpi: newsletter_optins
    owner: maya
    period: quarter
    target: 1200
    pacing: business_days
    checkins: fortnight
"""


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="syncd.yaml", environ=ENV if env is None else env)
    return [str(p) for p in info.value.problems]


def test_valid_configuration_builds_the_domain():
    config = parse_config(BASE, file="syncd.yaml", environ=ENV)
    assert config.timezone.key == "Europe/London"
    assert config.holidays == frozenset({date(2026, 12, 25)})
    assert config.sources["lemlist"].settings.interval == timedelta(minutes=15)
    assert config.sources["lemlist"].settings.lookback == timedelta(days=3)
    assert config.sources["kit"].settings.interval == timedelta(hours=1)
    assert config.people["bob"].identities["lemlist"] == ("bob@acme.io", "robert@acme.io")
    alice, bob, maya = config.goals
    assert (alice.target, alice.period) == (400, RecurringPeriodSpec("month"))
    assert (bob.target, bob.committed) == (390.0, 300)
    assert (maya.pacing, maya.checkins, maya.tolerance) == ("business_days", ("fortnight",), 0.10)
    assert (config.team_of("alice"), config.team_of("growth")) == ("growth", "growth")
    assert (config.listen_host, config.listen_port) == ("127.0.0.1", 9464)
    assert config.database_url == "sqlite:///syncd.db"


def test_secret_is_interpolated_but_never_shown():
    config = parse_config(BASE, file="syncd.yaml", environ=ENV)
    api_key = config.sources["lemlist"].settings.api_key
    assert api_key is not None
    assert api_key.get_secret_value() == "lem-secret-123456"
    assert "lem-secret-123456" not in repr(config)


def test_default_and_missing_environment_variables():
    text = BASE.replace("${KIT_API_KEY}", "${KIT_KEY_FILE:-fallback-key-1}")
    config = parse_config(text, file="syncd.yaml", environ={"LEMLIST_API_KEY": "x" * 8})
    assert config.sources["kit"].settings.api_key.get_secret_value() == "fallback-key-1"  # type: ignore[union-attr]
    assert problems_of(BASE, env={}) == [
        "syncd.yaml: sources.lemlist.api_key: environment variable LEMLIST_API_KEY is not set",
        "syncd.yaml: sources.kit.api_key: environment variable KIT_API_KEY is not set",
    ]


def test_environment_overrides_top_level_keys():
    env = {**ENV, "SYNCD_DATABASE_URL": "postgresql+psycopg://u@db/syncd", "SYNCD_LISTEN": "10.1.2.3:9999"}
    config = parse_config(BASE, file="syncd.yaml", environ=env)
    assert config.database_url == "postgresql+psycopg://u@db/syncd"
    assert (config.listen_host, config.listen_port) == ("10.1.2.3", 9999)


def test_every_problem_is_reported_at_once_with_its_path():
    text = (
        BASE.replace("timezone: Europe/London", "timezone: Europe/Londn")
        .replace("interval: 15m", "interval: 15x")
        .replace("{team: growth}\n  alice", "{team: grwth}\n  alice")
        .replace("target: 400", "target: -5")
        .replace("metric: new_subscribers", "metric: new_subs")
    )
    problems = problems_of(text)
    assert "syncd.yaml: timezone: unknown time zone 'Europe/Londn' (use an IANA name such as Europe/London)" in (
        p.split(" (got")[0] for p in problems
    )
    assert any(p.startswith("syncd.yaml: sources.lemlist.interval: invalid duration '15x'") for p in problems)
    assert any(p.startswith("syncd.yaml: goals[0].target: input should be greater than 0") for p in problems)
    assert len(problems) == 3  # cross-file checks wait until the shapes are right


def test_reference_errors():
    text = (
        BASE.replace("identities: {lemlist: alice@acme.io}", "identities: {lemlist: alice@acme.io, x: '1'}")
        .replace("team: growth\n    identities: {lemlist: [", "team: sales\n    identities: {lemlist: [")
        .replace("metric: new_subscribers", "metric: new_subs")
        .replace("owner: maya", "owner: mallory")
        .replace("kpi: outreach_emails_sent\n    owner: bob", "kpi: outreach_mails\n    owner: bob")
    )
    assert problems_of(text) == [
        "syncd.yaml: people.alice.identities.x: unknown source 'x'",
        "syncd.yaml: people.bob.team: unknown team 'sales'",
        "syncd.yaml: kpis.newsletter_optins.metric: connector 'kit' has no metric 'new_subs' (it has: new_subscribers)",
        "syncd.yaml: goals[1].kpi: unknown KPI 'outreach_mails'",
        "syncd.yaml: goals[2].owner: unknown person or team 'mallory'",
    ]


def test_goal_rules():
    text = BASE + (
        "  - kpi: outreach_emails_sent\n    owner: alice\n    period: month\n    target: 10\n"
        "  - kpi: newsletter_optins\n    owner: maya\n    period: month\n    target: 5\n    committed: 4\n"
        "  - kpi: newsletter_optins\n    owner: maya\n    period: week\n"
        "  - kpi: newsletter_optins\n    owner: maya\n    period: year\n    target: 5\n    stretch: 0.1\n"
        "  - kpi: outreach_emails_sent\n    owner: maya\n    period: week\n    target: 5\n"
    )
    assert problems_of(text) == [
        "syncd.yaml: goals[3]: duplicate goal: goals[0] already sets outreach_emails_sent for alice",
        "syncd.yaml: goals[4]: set either target or committed (+ stretch), not both",
        "syncd.yaml: goals[5]: missing target (or committed)",
        "syncd.yaml: goals[6].stretch: stretch raises committed; it needs committed, not target",
        "syncd.yaml: goals[7].owner: person 'maya' has no identity in source 'lemlist', so KPI "
        "'outreach_emails_sent' (per_person) cannot count anything for them",
    ]


def test_periods_and_pacing_shapes():
    # Fortnight check-ins would not be shorter than this 14-day period: weeks are.
    text = (
        BASE.replace("period: quarter", "period: {start: 2026-11-16, end: 2026-11-29}")
        .replace("pacing: business_days", "pacing: {weights: {saturday: 0, sunday: 0, december: 0.5}}")
        .replace("checkins: fortnight", "checkins: week")
    )
    goal = parse_config(text, file="syncd.yaml", environ=ENV).goals[2]
    assert goal.period == FixedPeriodSpec(date(2026, 11, 16), date(2026, 11, 29))
    assert goal.pacing == CustomWeightsSpec(weekday={5: 0.0, 6: 0.0}, month={12: 0.5})
    bad = BASE.replace("period: quarter", "period: semester").replace("pacing: business_days", "pacing: lumpy")
    assert problems_of(bad) == [
        "syncd.yaml: goals[2].period: must be week, fortnight, month, quarter, year or "
        "{start: YYYY-MM-DD, end: YYYY-MM-DD}",
        "syncd.yaml: goals[2].pacing: must be linear, business_days, history or {weights: {monday: 1, ..., december: 1}}",
    ]
    reversed_period = BASE.replace("period: quarter", "period: {start: 2026-11-29, end: 2026-11-16}")
    assert problems_of(reversed_period) == ["syncd.yaml: goals[2].period.end: must not be before start"]
    bad_date = BASE.replace("period: quarter", "period: {start: 2026-11-31, end: 2026-12-16}")
    assert problems_of(bad_date)[0].startswith("syncd.yaml: goals[2].period.start: ")


def test_unknown_keys_and_connectors():
    text = BASE.replace("lookback: 3d", "lookback: 3d\n    colour: blue").replace("connector: kit", "connector: kitt")
    problems = problems_of(text + "extra_top: 1\n")
    assert problems[0] == "syncd.yaml: sources.lemlist.colour: unknown key"
    assert problems[1].startswith("syncd.yaml: sources.kit.connector: unknown connector 'kitt' (known: ")
    assert problems[2] == "syncd.yaml: extra_top: unknown key"
    assert len(problems) == 3


def test_yaml_syntax_and_duplicate_keys():
    assert problems_of("timezone: UTC\ntimezone: UTC\n") == [
        "syncd.yaml: invalid YAML at line 2, column 1: duplicate key 'timezone'"
    ]
    assert problems_of("teams: [unclosed\n")[0].startswith("syncd.yaml: invalid YAML at line ")
    assert problems_of("- a list\n") == ["syncd.yaml: the top level must be a mapping of keys"]


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_listen_and_database_url():
    text = BASE + "listen: localhost\ndatabase_url: mysql://x/y\n"
    assert problems_of(text) == [
        "syncd.yaml: listen: must be HOST:PORT, e.g. 127.0.0.1:9464 (got 'localhost')",
        "syncd.yaml: database_url: must be a sqlite:/// or postgresql+psycopg:// URL",
    ]


@pytest.mark.parametrize("name", ["syncd.yaml", "example.yaml"])
def test_shipped_configurations_load(name: str):
    path = Path(__file__).resolve().parents[1] / "config" / name
    env = {var: f"{var.lower()}-value-0001" for var in re.findall(r"\$\{([A-Z0-9_]+)\}", path.read_text())}
    config = load_config(path, environ=env)
    assert config.goals


def test_a_bad_value_from_a_syncd_variable_is_blamed_on_the_variable_not_the_file() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("timezone: UTC\n", file="syncd.yaml", environ={"SYNCD_TIMEZONE": "Mars/Base"})
    (problem,) = caught.value.problems
    assert str(problem).startswith("environment variable SYNCD_TIMEZONE: timezone: unknown time zone 'Mars/Base'")


def test_postgres_urls_without_a_driver_are_accepted() -> None:
    config = parse_config("database_url: postgres://u@db:5432/syncd\n", environ={})
    assert config.database_url == "postgresql+psycopg://u@db:5432/syncd"
