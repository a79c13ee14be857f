"""The status page: states people can trust, urgency order, escaping, and a real browser at two widths.

`make screenshots` runs the browser test with SYNCD_SCREENSHOTS set, leaving desktop and phone PNGs.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.engine.pace import pace_figures
from syncd.engine.snapshot import GoalStatus, Snapshot, SourceStatus
from syncd.serve.status_page import goal_state, render_status_page
from tests.live_daemon import live_daemon

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def goal(owner: str, value: float, *, kpi: str = "emails", source: str = "lemlist", team: str = "growth") -> GoalStatus:
    figures = pace_figures(value=value, target=100, elapsed=0.5, total_weight=20)
    return GoalStatus(
        kpi=kpi, source=source, owner=owner, team=team, period="2026-11", start=NOW - timedelta(days=22),
        deadline=NOW + timedelta(days=8), value=value, target=100, committed=None, figures=figures, unit="emails",
    )  # fmt: skip


def source(name: str, *, up: bool | None = True, ago: timedelta = timedelta(minutes=1)) -> SourceStatus:
    return SourceStatus(name=name, connector=name, interval_seconds=900, up=up, last_success=NOW - ago)


def test_a_goal_whose_source_is_down_is_not_shown_as_a_shortfall() -> None:
    low = goal("bob", 10)
    assert goal_state(low, {"lemlist": source("lemlist")}, NOW) == "behind"
    assert goal_state(low, {"lemlist": source("lemlist", up=False)}, NOW) == "source_down"
    assert goal_state(low, {"lemlist": source("lemlist", ago=timedelta(hours=1))}, NOW) == "stale"
    # A KPI over several sources is as trustworthy as its least trustworthy one.
    both = goal("bob", 10, source="x_a+x_b")
    assert goal_state(both, {"x_a": source("x_a"), "x_b": source("x_b", up=False)}, NOW) == "source_down"
    page = render_status_page(Snapshot(generated_at=NOW, goals=(low,), sources=(source("lemlist", up=False),)))
    assert "Source down" in page
    assert ">Behind<" not in page


def test_on_pace_with_a_tiny_chance_is_at_risk() -> None:
    risky = replace(goal("alice", 50), hit_probability=0.06)
    assert goal_state(risky, {}, NOW) == "at_risk"
    assert "only a 6% chance" in render_status_page(Snapshot(generated_at=NOW, goals=(risky,)))


def test_cards_are_sorted_by_urgency_and_everything_is_escaped() -> None:
    goals = (goal("alice", 90), goal("<script>bob</script>", 10), goal("carol", 50))
    page = render_status_page(Snapshot(generated_at=NOW, goals=goals))
    assert "<script>bob" not in page
    assert "&lt;script&gt;bob&lt;/script&gt;" in page
    order = [page.index(name) for name in ("&lt;script&gt;bob", "carol", "alice")]
    assert order == sorted(order)  # behind, on pace, ahead
    assert '<meta name="viewport"' in page
    assert "10 / 100 emails" in page


def test_refresh_is_optional_and_bounded() -> None:
    snapshot = Snapshot(generated_at=NOW)
    assert 'http-equiv="refresh"' not in render_status_page(snapshot)
    assert 'content="30"' in render_status_page(snapshot, refresh=30)
    assert 'content="5"' in render_status_page(snapshot, refresh=1)


def test_sources_say_their_interval_as_the_configuration_writes_it() -> None:
    hourly = replace(source("ga4"), interval_seconds=3600)
    pushed = replace(source("interviews"), interval_seconds=None, pulled=False)
    page = render_status_page(Snapshot(generated_at=NOW, sources=(source("kit"), hourly, pushed)))
    assert 'data-label="Every" class=num>15m</td>' in page
    assert 'data-label="Every" class=num>1h</td>' in page
    assert 'data-label="Every" class=num>when pushed</td>' in page
    assert "0:15:00" not in page


def test_grafana_links_only_when_configured() -> None:
    snapshot = Snapshot(generated_at=NOW, goals=(goal("alice", 50),))
    assert "Grafana" not in render_status_page(snapshot)
    page = render_status_page(snapshot, grafana_url="https://grafana.example/")
    assert 'href="https://grafana.example/d/syncd-person?var-owner=alice&amp;var-kpi=emails"' in page


def test_times_read_in_the_configured_time_zone_and_say_which() -> None:
    snapshot = Snapshot(generated_at=NOW, goals=(goal("alice", 50),))
    # 12:00 UTC is 07:00 in New York in November: the page speaks the configuration's zone, not UTC.
    page = render_status_page(snapshot, timezone=ZoneInfo("America/New_York"))
    assert "23 Nov 2026, 07:00 EST (America/New_York)" in page
    assert "UTC" not in page
    assert 'datetime="2026-11-23T07:00:00-05:00"' in page
    # Without a zone (a bare snapshot), the instant's own zone is named.
    assert "23 Nov 2026, 12:00 UTC" in render_status_page(snapshot)


def _browser(width: int, height: int):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        message = "chromium and chromium-driver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    if width < 500:
        # Desktop Chromium windows stop shrinking near 500 px: a phone is emulated instead.
        options.add_experimental_option(
            "mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}}
        )
    else:
        options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(driver), options=options)


def _metric_values(text: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["kpi"], s.labels["owner"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "syncd_goal_value"
        for s in family.samples
    }


def _check_in_browser(url: str, metrics: dict[tuple[str, str], float], shots: Path) -> None:
    """Open the page at two widths: no sideways scroll, the numbers of /metrics, a screenshot each."""
    from selenium.webdriver.common.by import By

    shots.mkdir(parents=True, exist_ok=True)
    for name, (width, height) in {"desktop": (1280, 900), "phone": (390, 844)}.items():
        browser = _browser(width, height)
        try:
            browser.get(url + "/")
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px"
            # A table that scrolls inside its box hides columns just the same (the funnel's conversions,
            # a source's last error on a phone): every table must fit the width as it is.
            hidden = browser.execute_script(
                "return [...document.querySelectorAll('.table-wrap')]"
                ".filter(w => w.scrollWidth > w.clientWidth).map(w => w.querySelector('caption').textContent)"
            )
            assert hidden == [], f"{name}: tables wider than the screen: {hidden}"
            assert browser.find_elements(By.CSS_SELECTOR, ".table-wrap"), "no tables to check"
            shown = {}
            for card in browser.find_elements(By.CSS_SELECTOR, "article.goal"):
                owner, kpi = (card.get_attribute("aria-label") or "").split(",")[0].split(": ")
                value = card.find_element(By.CSS_SELECTOR, ".value").text
                shown[(kpi, owner)] = float(re.sub(r"[^0-9.]", "", value.split("/")[0]))
            assert shown == pytest.approx(metrics), name
            browser.save_screenshot(str(shots / f"status-{name}.png"))
        finally:
            browser.quit()
    assert (shots / "status-phone.png").stat().st_size > 10_000


async def test_the_page_in_chromium_at_desktop_and_phone_width(tmp_path: Path) -> None:
    shots = Path(os.environ.get("SYNCD_SCREENSHOTS", str(tmp_path / "screenshots")))
    async with live_daemon(tmp_path) as url:
        async with httpx.AsyncClient() as client:
            metrics = _metric_values((await client.get(f"{url}/metrics")).text)
        # The browser blocks: it runs in a thread so the daemon's server (this loop) can answer it.
        await asyncio.to_thread(_check_in_browser, url, metrics, shots)
