"""The README's quick start, run as a newcomer would: the demo, then every command it prints, in order.

The commands run in a copy of the repository's config/ with nothing exported but what moves the demo
off its fixed ports (so this test can run beside a real demo); each must exit 0 with its output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx

from syncd.sandbox.vendors import VENDORS
from tests.processes import SYNCD, Process, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
ROOTS = {"lemlist": "/api", "kit": "/v4", **{name: fake.api_root for name, fake in VENDORS.items()}}


def quickstart_commands() -> list[str]:
    """Return the commands of the README's second quick-start block (the first is `make run`)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks[0].strip().startswith("make run"), "the quick start begins with make run"
    return [line.strip() for line in blocks[1].splitlines() if line.strip() and not line.startswith("#")]


def getting_started_commands() -> list[str]:
    """Return the shell commands of docs/getting-started.md that run beside the demo."""
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    lines = [line.strip() for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S) for line in block.splitlines()]
    return [line for line in lines if line.startswith((".venv/bin/syncd", "curl "))]


def newcomer_env(listen_port: int) -> dict[str, str]:
    """Return a clean environment: no keys, no URLs, only the demo's ports moved to free ones."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SYNCD_", "LEMLIST", "KIT"))}
    for vendor, root in ROOTS.items():
        env[f"SYNCD_DEMO_{vendor.upper()}_URL"] = f"http://127.0.0.1:{free_port()}{root}"
    env["SYNCD_LISTEN"] = f"127.0.0.1:{listen_port}"
    env["NO_COLOR"] = "1"
    return env


def test_every_readme_quickstart_command_works_beside_the_demo(tmp_path: Path, processes: list[Process]) -> None:
    commands = quickstart_commands() + getting_started_commands()
    assert len(commands) >= 12
    workdir = tmp_path / "repo"
    shutil.copytree(ROOT / "config", workdir / "config")
    port = free_port()
    env = newcomer_env(port)
    demo = Process("demo", [SYNCD, "demo"], tmp_path, env=env, cwd=workdir)
    processes.append(demo)
    wait_until(
        lambda: "syncd_goal_pace_ratio{" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text,
        timeout=60,
        what=f"the demo's goal metrics\n{demo.output()}",
    )
    assert "nothing to export" in demo.output()
    # The banner says the demo's speed and simulated now, and which source fails now and then.
    assert re.search(r"clock +simulated, 60x real time .*, now \w{3} \d{2} \w{3} \d{4} \d{2}:\d{2}", demo.output())
    assert "failing       calls: its API is down 2 h a day" in demo.output()
    assert (workdir / "syncd-demo.db-clock.json").is_file(), "the commands below share the demo's clock"
    for command in commands:
        runnable = command.replace(".venv/bin/syncd", SYNCD).replace("localhost:9464", f"127.0.0.1:{port}")
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", runnable],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode == 1 and command.endswith("syncd check"):
            # The call log's daily outage (README): check reports it, and it is the only failure.
            failed = [line for line in done.stdout.splitlines() if ": FAILED: " in line]
            assert failed == [line for line in failed if line.startswith("calls: FAILED: calls answered HTTP 503")]
            assert failed, done.stdout
        else:
            assert done.returncode == 0, f"{command!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, command
        assert "INFO alembic" not in done.stderr, command
        assert done.stdout.strip(), f"{command!r} printed nothing"
    assert demo.proc.poll() is None, demo.output()


def test_demo_refuses_a_source_that_points_at_a_real_vendor(tmp_path: Path) -> None:
    workdir = tmp_path / "repo"
    shutil.copytree(ROOT / "config", workdir / "config")
    env = newcomer_env(free_port())
    env["SYNCD_DEMO_KIT_URL"] = "https://api.kit.com/v4"
    done = subprocess.run([SYNCD, "demo"], cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "source kit: the demo runs only against its sandbox" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_config_is_packaged_for_use_outside_the_repository() -> None:
    packaged = ROOT / "syncd" / "sandbox" / "demo.yaml"
    assert packaged.read_text(encoding="utf-8") == (ROOT / "config" / "syncd.yaml").read_text(encoding="utf-8")


def test_check_offline_validates_structure_without_secrets(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.endswith(("_API_KEY", "_TOKEN"))}
    done = subprocess.run(
        [SYNCD, "check", "--offline", "--config", str(ROOT / "config" / "example.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "config/example.yaml: ok" in done.stdout
    assert "note: environment variable LEMLIST_API_KEY is not set" in done.stdout
