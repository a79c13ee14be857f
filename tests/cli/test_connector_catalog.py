"""`syncd connectors` at 80 columns: the configuration's words for types and defaults, a note for every setting."""

from __future__ import annotations

from click.testing import CliRunner

from syncd.cli.main import main
from syncd.registry import load_registry


def catalog_at_80_columns() -> str:
    result = CliRunner().invoke(main, ["connectors"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def section(output: str, connector: str) -> str:
    start = output.index(f"{connector}: ")
    end = output.find("\n\n", output.index("metric ", start))
    return output[start:end]


def test_catalog_fits_80_columns_and_never_cuts():
    output = catalog_at_80_columns()
    assert max(len(line) for line in output.splitlines()) <= 80
    # Rich marks a cut cell with "…"; the only ones allowed are those the descriptions write themselves.
    registry = load_registry()
    written = sum(
        (info.description or "").count("…")
        for cls in registry.connectors.values()
        for info in cls.settings_model.model_fields.values()
    ) + sum(str(cls.__doc__).count("…") for cls in registry.connectors.values())
    assert output.count("…") <= written


def test_durations_choices_and_types_read_as_the_config_writes_them():
    output = catalog_at_80_columns()
    lemlist = section(output, "lemlist")
    assert "15m" in lemlist
    assert "900s" not in output
    assert "0:15:00" not in output
    assert "prefix | domain" in section(output, "ahrefs")
    assert "exact | prefix | domain | subdomains" in " ".join(section(output, "ahrefs").split()).replace("│ ", "")
    assert "secret text" in lemlist
    for python_name in ("SecretStr", "Literal", "Optional", "str |", "timedelta", "JsonValue"):
        assert python_name not in output, python_name


def test_every_http_json_setting_has_its_note():
    settings = load_registry().connectors["http_json"].settings_model.model_fields
    rows = [line for line in section(catalog_at_80_columns(), "http_json").splitlines() if "│" in line]
    named = {line.split("│")[0].strip(): line.split("│")[3].strip() for line in rows if line.split("│")[0].strip()}
    expected = set(settings) - {"connector"}
    assert len(expected) >= 25
    assert set(named) == expected
    assert all(named[name] for name in expected), [name for name in expected if not named[name]]
