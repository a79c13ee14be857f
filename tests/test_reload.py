"""SIGHUP reloads: only changed sources restart, intervals apply at once, a bad file changes nothing."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncd.model import Config
from syncd.run.daemon import Daemon
from syncd.run.reload import plan_reload
from syncd.sandbox.activity import ExplicitActivity, make_lemlist_activity
from syncd.sandbox.server import Sandbox
from syncd.serve.exposition import build_registry
from syncd.serve.web_config import WebConfig, load_web_config
from syncd.store import create_engine_for, upgrade
from tests.fakes import FakeClock, make_config
from tests.processes import free_port

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

CONFIG = """
people:
  alice: {{identities: {{lemlist: alice@acme.io}}}}
sources:
  lemlist: {{connector: lemlist, api_key: "{lemlist_key}", base_url: "{lemlist_url}", interval: {lemlist_interval}}}
  kit: {{connector: kit, api_key: "{kit_key}", base_url: "{kit_url}", interval: 1h}}
  kit_same: {{connector: kit, api_key: "{kit_key}", base_url: "{base_kit_url}", interval: 1h}}
  {extra}: {{connector: kit, api_key: "{kit_key}", base_url: "{base_kit_url}", interval: 1h}}
kpis:
  emails: {{source: lemlist, metric: emails_sent, per_person: true}}
goals:
  - {{kpi: emails, owner: alice, period: month, target: {target}}}
"""


class ParkedClock(FakeClock):
    """A fake clock on which a sleep never ends: source loops park at their first wait, recorded."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.Event().wait()


async def settle() -> None:
    """Let started tasks run up to their first wait."""
    for _ in range(5):
        await asyncio.sleep(0)


def config_text(
    sandbox: Sandbox, *, interval: str = "1m", kit_url: str = "", extra: str = "kit_gone", target: int = 40
):
    return CONFIG.format(
        lemlist_key=sandbox.lemlist_api_key,
        lemlist_url=sandbox.lemlist_url,
        lemlist_interval=interval,
        kit_key=sandbox.kit_api_key,
        kit_url=kit_url or sandbox.kit_url,
        base_kit_url=sandbox.kit_url,
        extra=extra,
        target=target,
    )


def exposition(daemon: Daemon) -> str:
    return generate_latest(build_registry(daemon.holder)).decode()


def reload_timestamp(text: str) -> float:
    (family,) = [
        f for f in text_string_to_metric_families(text) if f.name.startswith("syncd_config_last_reload_success_")
    ]
    (sample,) = family.samples
    return float(sample.value)


def test_plan_names_what_changed():
    old = make_config("database_url: sqlite:///a.db\n" + _plain(interval="1m"))
    new = make_config(
        "database_url: sqlite:///b.db\nlisten: 127.0.0.1:9999\n"
        + _plain(interval="5m", kit_url="http://127.0.0.1:2/v4", extra="kit_new")
    )
    plan = plan_reload(old, new, WebConfig(), WebConfig(cert_file="c.pem", key_file="k.pem"))
    assert (plan.added, plan.removed, plan.restarted, plan.rescheduled) == (
        ("kit_new",),
        ("kit_gone",),
        ("kit",),
        ("lemlist",),
    )
    assert plan.needs_restart == ("database_url", "listen", "web_config_file tls_server_config")
    assert plan.partial
    assert not plan_reload(old, old, WebConfig(), WebConfig()).partial
    assert plan_reload(old, old, WebConfig(), WebConfig()).summary() == "no source changed"


def _plain(*, interval: str, kit_url: str = "http://127.0.0.1:1/v4", extra: str = "kit_gone") -> str:
    return CONFIG.format(
        lemlist_key="k" * 20,
        lemlist_url="http://127.0.0.1:1/api",
        lemlist_interval=interval,
        kit_key="k" * 20,
        kit_url=kit_url,
        base_kit_url="http://127.0.0.1:1/v4",
        extra=extra,
        target=40,
    )


async def test_reload_restarts_only_changed_sources_and_applies_intervals(tmp_path: Path):
    clock = ParkedClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    emails = [make_lemlist_activity("emailsSent", NOW - timedelta(days=1), "alice@acme.io", n=1)]
    stop = asyncio.Event()
    async with Sandbox(clock=clock, activity=ExplicitActivity(lemlist=emails)) as sandbox:
        config = make_config(config_text(sandbox))
        daemon = Daemon(config, engine, clock=clock)
        await daemon.evaluate()
        assert (await daemon.sync_once(config.sources["lemlist"])).ok
        daemon._start_sources(stop)
        await settle()
        before = dict(daemon._tasks)
        assert set(before) == {"lemlist", "kit", "kit_same", "kit_gone"}
        clock.advance(30)  # lemlist last synced 30 s ago
        clock.sleeps.clear()

        changed = make_config(
            config_text(sandbox, interval="5m", kit_url=sandbox.kit_url + "/", extra="kit_new", target=50)
        )
        plan = await daemon.reload_from(lambda: changed, stop)
        await settle()
        assert plan is not None
        assert (plan.added, plan.removed, plan.restarted, plan.rescheduled) == (
            ("kit_new",),
            ("kit_gone",),
            ("kit",),
            ("lemlist",),
        )
        assert set(daemon._tasks) == {"lemlist", "kit", "kit_same", "kit_new"}
        assert daemon._tasks["kit_same"] is before["kit_same"]  # untouched: keeps its schedule
        assert daemon._tasks["kit"] is not before["kit"]
        assert before["kit_gone"].cancelled()
        # The rescheduled source waits out its new interval from its last sync: 300 - 30 s, no sync now.
        assert 270.0 in clock.sleeps
        # Three new loops started (kit, kit_new, lemlist), each parked at its first wait.
        assert len(clock.sleeps) == 3
        text = exposition(daemon)
        assert 'syncd_source_interval_seconds{connector="lemlist",source="lemlist"} 300.0' in text
        assert 'source="kit_gone"' not in text
        assert "syncd_config_last_reload_successful 1.0" in text
        reloaded_at = (NOW + timedelta(seconds=30)).timestamp()
        assert reload_timestamp(text) == reloaded_at
        assert [g.target for g in daemon.holder.current.goals] == [50]
        assert [g.value for g in daemon.holder.current.goals] == [1]

        # A file that blows up in the loader: one log line, the running configuration kept, metric 0.
        def broken() -> Config:
            raise OverflowError("cannot convert float infinity to integer")

        clock.advance(60)
        tasks = dict(daemon._tasks)
        assert await daemon.reload_from(broken, stop) is None
        assert daemon.config is changed
        assert daemon._tasks == tasks
        text = exposition(daemon)
        assert "syncd_config_last_reload_successful 0.0" in text
        assert reload_timestamp(text) == reloaded_at

        # database_url and listen cannot move under a running daemon: kept, reload partial.
        moved = make_config("database_url: sqlite:///elsewhere.db\nlisten: 127.0.0.1:1\n" + config_text(sandbox))
        plan = await daemon.reload_from(lambda: moved, stop)
        assert plan is not None
        assert plan.needs_restart == ("database_url", "listen")
        assert daemon.config.database_url == changed.database_url
        assert daemon.config.listen_port == changed.listen_port
        assert daemon.config.sources["lemlist"].interval_seconds == 60  # the rest applied
        assert "syncd_config_last_reload_successful 0.0" in exposition(daemon)

        # A full reload again sets it back to 1.
        assert await daemon.reload_from(lambda: changed, stop) is not None
        assert "syncd_config_last_reload_successful 1.0" in exposition(daemon)
        stop.set()
        await asyncio.gather(*daemon._tasks.values(), return_exceptions=True)
        await daemon.connectors.aclose()
    engine.dispose()


async def test_reload_rereads_the_web_config(tmp_path: Path):
    clock = ParkedClock(NOW)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    web_file = tmp_path / "web.yml"
    web_file.write_text("{}\n")
    text = f"web_config_file: {web_file}\n" + _plain(interval="1m")
    config = make_config(text)
    daemon = Daemon(config, engine, clock=clock)
    await daemon.evaluate()
    stop = asyncio.Event()
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4)).decode()
    web_file.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    plan = await daemon.reload_from(lambda: make_config(text), stop)
    assert plan is not None
    assert not plan.partial
    assert [user for user, _ in daemon.web_state.web_config.users] == ["prometheus"]
    # A broken web config refuses the whole reload and keeps the users.
    web_file.write_text("basic_auth_users:\n  prometheus: plaintext\n")
    assert await daemon.reload_from(lambda: make_config(text), stop) is None
    assert [user for user, _ in daemon.web_state.web_config.users] == ["prometheus"]
    assert "syncd_config_last_reload_successful 0.0" in exposition(daemon)
    engine.dispose()


async def test_the_status_page_follows_the_configured_time_zone_across_a_reload(tmp_path: Path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'z.db'}")
    upgrade(engine)
    text = _plain(interval="1m")
    daemon = Daemon(make_config("timezone: Europe/Paris\n" + text), engine, clock=ParkedClock(NOW))
    assert str(daemon.web_state.timezone) == "Europe/Paris"
    plan = await daemon.reload_from(lambda: make_config("timezone: Asia/Tokyo\n" + text), asyncio.Event())
    assert plan is not None
    assert str(daemon.web_state.timezone) == "Asia/Tokyo"
    engine.dispose()


def make_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 named `name` and its key (openssl, as ops would)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", f"/CN={name}", "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def served_certificate_name(port: int, folder: Path) -> str:
    """Return which of the test certificates (by file name) the server on `port` presents."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    pem = ssl.DER_cert_to_PEM_cert(der)
    for name in ("first", "rotated"):
        if (folder / f"{name}.pem").read_text().strip() == pem.strip():
            return name
    return "unknown"


async def test_reload_rotates_the_tls_certificate_without_a_restart(tmp_path: Path):
    assert shutil.which("openssl"), "openssl is needed (.ci/run installs it)"
    first, first_key = make_certificate(tmp_path, "first")
    rotated, rotated_key = make_certificate(tmp_path, "rotated")
    cert, key = tmp_path / "tls.pem", tmp_path / "tls.key"
    cert.write_bytes(first.read_bytes())
    key.write_bytes(first_key.read_bytes())
    web_file = tmp_path / "web.yml"
    web_file.write_text(f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n")
    port = free_port()
    text = f"listen: 127.0.0.1:{port}\nweb_config_file: {web_file}\n" + _plain(interval="1m")
    engine = create_engine_for(f"sqlite:///{tmp_path / 't.db'}")
    upgrade(engine)
    daemon = Daemon(make_config(text), engine, clock=ParkedClock(NOW), web_config=load_web_config(str(web_file)))
    runner = await daemon.serve()
    try:
        assert await served_certificate_name(port, tmp_path) == "first"
        # The operator replaces the files in place (cert-manager does the same) and sends SIGHUP.
        cert.write_bytes(rotated.read_bytes())
        key.write_bytes(rotated_key.read_bytes())
        plan = await daemon.reload_from(lambda: make_config(text), asyncio.Event())
        assert plan is not None
        assert not plan.partial
        assert await served_certificate_name(port, tmp_path) == "rotated"
        # A key that does not match refuses the reload; the served certificate stays.
        key.write_bytes(first_key.read_bytes())
        assert await daemon.reload_from(lambda: make_config(text), asyncio.Event()) is None
        assert await served_certificate_name(port, tmp_path) == "rotated"
    finally:
        await runner.cleanup()
        engine.dispose()
