"""Every configuration snippet in the README and docs/ loads as it is (STYLE habit 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syncd.config import parse_config
from syncd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def snippets() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for index, block in enumerate(BLOCK.findall(path.read_text())):
            if re.search(r"^(sources|kpis|goals|teams|people):", block, re.MULTILINE):
                found.append((f"{path.relative_to(ROOT)}#{index}", block))
    return found


@pytest.mark.parametrize(("where", "text"), snippets(), ids=[w for w, _ in snippets()])
def test_snippet_loads(where: str, text: str):
    # Keys end like a Mailchimp key (data centre suffix), which no other vendor minds.
    env = {name: f"{name.lower()}-dummy-us19" for name in VARIABLE.findall(text)}
    if text.lstrip().startswith("funnels:"):
        # A snippet that only shows funnels refers to KPIs defined elsewhere in the same page.
        with pytest.raises(ConfigError) as info:
            parse_config(text, file=where, environ=env)
        assert all("unknown KPI" in p.message for p in info.value.problems), info.value
        return
    parse_config(text, file=where, environ=env)
