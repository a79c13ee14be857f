"""Load, interpolate and validate a configuration file into a frozen `Config` (step two of two).

Every problem is reported at once, one line each naming the file, the key path and what is
wrong; the CLI turns the `ConfigError` into exit code 2 without a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.config_schema import MONTHS, WEEKDAYS, RawConfig, RawCustomPeriod, RawGoal, RawWeights
from syncd.engine.checkin_levels import checkin_levels
from syncd.engine.pace import stretched_target
from syncd.errors import ConfigError, ConfigProblem
from syncd.model import (
    SOURCE_JOIN,
    Config,
    CustomWeightsSpec,
    FixedPeriodSpec,
    Funnel,
    Goal,
    Kpi,
    PacingSpec,
    PeriodSpec,
    Person,
    PersonalGoal,
    RecurringPeriodSpec,
    Retention,
    Source,
    Team,
)
from syncd.registry import ConnectorRegistry, load_registry
from syncd.sharding import Shard, parse_shard, shard_goals
from syncd.store.database import normalise_database_url
from syncd.yaml_limits import (
    MAX_FILE_BYTES,
    LimitedLoaderMixin,
    YamlLimitError,
    check_expanded_size,
    libyaml_loader,
    load_limited,
    read_text_file,
)

__all__ = ["DEFAULT_CONFIG_PATH", "load_config", "parse_config", "resolve_config_path"]

DEFAULT_CONFIG_PATH = "config/syncd.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_KEYS = ("api_key", "token", "password", "secret")
MAX_TEXT_CHARS = MAX_FILE_BYTES


def resolve_config_path(option: str | None) -> str:
    """Return the configuration path: the option, else $SYNCD_CONFIG, else config/syncd.yaml."""
    return option or os.environ.get("SYNCD_CONFIG") or DEFAULT_CONFIG_PATH


def load_config(
    path: str | Path, *, environ: Mapping[str, str] | None = None, unset_env: list[str] | None = None
) -> Config:
    """Read `path` and return the validated configuration, or raise ConfigError listing every problem.

    With `unset_env` (a list to fill), a `${VAR}` that is not set is no problem: it stands as a
    placeholder and its name is appended, so `check --offline` validates structure without secrets.
    """
    file = str(path)
    try:
        text = read_text_file(path)
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(file, "", "file not found")]) from None
    except YamlLimitError as exc:
        raise ConfigError([ConfigProblem(file, "", str(exc))]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(file, "", f"cannot read the file: {exc.strerror}")]) from None
    return parse_config(text, file=file, environ=environ, unset_env=unset_env)


def parse_config(
    text: str,
    *,
    file: str = "<config>",
    environ: Mapping[str, str] | None = None,
    registry: ConnectorRegistry | None = None,
    unset_env: list[str] | None = None,
) -> Config:
    """Validate YAML text into a Config; `file` only names the source in messages."""
    try:
        return _parse_config(text, file=file, environ=environ, registry=registry, unset_env=unset_env)
    except (RecursionError, OverflowError, ValueError, TypeError, MemoryError) as exc:
        # A last line of defence: a reload must refuse such a file, never die of it.
        raise ConfigError([ConfigProblem(file, "", f"cannot be loaded: {_plain(exc)}")]) from None


def _plain(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _parse_config(
    text: str,
    *,
    file: str,
    environ: Mapping[str, str] | None,
    registry: ConnectorRegistry | None,
    unset_env: list[str] | None,
) -> Config:
    env = os.environ if environ is None else environ
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError([ConfigProblem(file, "", f"the file is larger than {MAX_TEXT_CHARS} characters")])
    try:
        document = load_limited(text, _UniqueKeyLoader, _LIBYAML_LOADER)
        check_expanded_size(document)
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(file, "", _yaml_message(exc))]) from None
    except YamlLimitError as exc:
        raise ConfigError([ConfigProblem(file, "", str(exc))]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([ConfigProblem(file, "", "the top level must be a mapping of keys")])

    problems: list[ConfigProblem] = []
    interpolated = _interpolate(document, env, "", file, problems, unset_env)
    chosen = registry or load_registry()
    try:
        raw = _build_raw(interpolated, env)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, file, ""))
        # Sources are checked by their connectors' models; report those problems in the same run.
        sources = interpolated.get("sources")
        if isinstance(sources, dict):
            build_sources(sources, file, chosen, problems)
        raise ConfigError(_blame_environment(_in_file_order(problems, interpolated), env)) from None
    if problems:
        raise ConfigError(_blame_environment(problems, env))
    builder = _Builder(raw, file, chosen)
    config = builder.build()
    if builder.problems:
        raise ConfigError(_blame_environment(builder.problems, env))
    return config


def _blame_environment(problems: list[ConfigProblem], env: Mapping[str, str]) -> list[ConfigProblem]:
    """Name the `SYNCD_*` variable, not the file, for a top-level value the environment overrode."""
    out = []
    for problem in problems:
        top = re.split(r"[.\[]", problem.path, maxsplit=1)[0]
        variable = f"SYNCD_{top.upper()}"
        if top and env.get(variable):
            problem = ConfigProblem(f"environment variable {variable}", problem.path, problem.message)
        out.append(problem)
    return out


def _in_file_order(problems: list[ConfigProblem], document: Mapping[str, Any]) -> list[ConfigProblem]:
    """Sort problems by the position of their top-level key in the file, as a reader scans it."""
    order = {key: index for index, key in enumerate(document)}

    def position(problem: ConfigProblem) -> int:
        top = re.split(r"[.\[]", problem.path, maxsplit=1)[0]
        return order.get(top, len(order))

    return sorted(problems, key=position)


def _build_raw(data: dict[str, Any], env: Mapping[str, str]) -> RawConfig:
    # pydantic-settings reads os.environ; a test may pass its own mapping instead.
    if env is os.environ:
        return RawConfig(**data)
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("SYNCD_")]:
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if k.startswith("SYNCD_")})
        return RawConfig(**data)
    finally:
        os.environ.clear()
        os.environ.update(saved)


class _UniqueKeyLoader(LimitedLoaderMixin, yaml.SafeLoader):
    """A safe loader that rejects a key written twice in one mapping (PyYAML keeps the last).

    Dates stay text: PyYAML would raise a bare ValueError for 2026-11-31, and pydantic reports it
    with the key's path instead.
    """

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML reads this class attribute by name
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable) or isinstance(key, list | dict):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be text or a number, not a list or mapping", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)
# The same loader on libyaml: most of a large file's load time was PyYAML's Python scanner.
_LIBYAML_LOADER = libyaml_loader(_UniqueKeyLoader)


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"invalid YAML: control character #x{character:04x} at position {exc.position} is not allowed"
    mark = getattr(exc, "problem_mark", None)
    # One line always: PyYAML's str() spans several.
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"invalid YAML: {problem}"


def _interpolate(
    value: Any,
    env: Mapping[str, str],
    path: str,
    file: str,
    problems: list[ConfigProblem],
    unset_env: list[str] | None = None,
) -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string with the environment's value."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env, _join(path, str(k)), file, problems, unset_env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{path}[{i}]", file, problems, unset_env) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        if unset_env is not None:
            if name not in unset_env:
                unset_env.append(name)
            return f"unset-{name}"
        problems.append(ConfigProblem(file, path, f"environment variable {name} is not set"))
        return ""

    return _VAR.sub(replace, value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _format_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = _join(out, part)
    return out


# pydantic names union branches in the error location; users never wrote those names.
_BRANCH = re.compile(r"^(literal\[.*\]|Raw[A-Za-z]+|function-.*|str|int|float|list\[.*\]|tuple\[.*\])$")


def _pydantic_problems(exc: ValidationError, file: str, prefix: str) -> list[ConfigProblem]:
    by_path: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for error in exc.errors():
        loc = [p for p in error["loc"] if not (isinstance(p, str) and _BRANCH.match(p))]
        path = _join(prefix, _format_loc(loc)) if loc else prefix
        by_path.setdefault(path, []).append((error["type"], dict(error)))
    problems: list[ConfigProblem] = []
    for path, errors in by_path.items():
        deeper = any(other.startswith(path + ".") for other in by_path if other != path)
        if deeper:
            continue  # the mapping branch of a union explains itself more precisely below
        problems.append(ConfigProblem(file, path, _message(path, errors)))
    return problems


_UNION_HINTS = {
    "period": "must be week, fortnight, month, quarter, year or {start: YYYY-MM-DD, end: YYYY-MM-DD}",
    "pacing": "must be linear, business_days, history or {weights: {monday: 1, ..., december: 1}}",
}


def _message(path: str, errors: list[tuple[str, dict[str, Any]]]) -> str:
    leaf = path.rsplit(".", 1)[-1]
    if len(errors) > 1 and leaf in _UNION_HINTS:
        return _UNION_HINTS[leaf]
    kind, error = errors[0]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    secret = any(word in path for word in _SECRET_KEYS)
    given = error.get("input")
    if (
        not secret
        and isinstance(given, str | int | float)
        and not isinstance(given, bool)
        and repr(given) not in message
    ):
        message += f" (got {given!r})"
    return message[0].lower() + message[1:] if message else message


@dataclass
class _Builder:
    """Check references across the file and build the frozen runtime values."""

    raw: RawConfig
    file: str
    registry: ConnectorRegistry
    problems: list[ConfigProblem] = field(default_factory=list)

    def problem(self, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, path, message))

    def build(self) -> Config:
        raw = self.raw
        host, port = self._listen(raw.listen)
        self._database_url(raw.database_url)
        self._web_config(raw.web_config_file)
        teams = {name: Team(name, spec.head) for name, spec in raw.teams.items()}
        sources = self._sources()
        people = self._people(sources)
        for name, team in teams.items():
            if team.head is not None and team.head not in people:
                self.problem(f"teams.{name}.head", f"unknown person {team.head!r}")
        kpis = self._kpis(sources)
        goals = self._goals(kpis, people, teams, sources)
        funnels = self._funnels(kpis)
        shard = self._shard(raw.shard)
        return Config(
            file=self.file,
            timezone=ZoneInfo(raw.timezone),
            week_start=WEEKDAYS.index(raw.week_start),
            fortnight_anchor=raw.fortnight_anchor,
            holidays=frozenset(raw.holidays),
            database_url=normalise_database_url(raw.database_url),
            listen_host=host,
            listen_port=port,
            web_config_file=raw.web_config_file,
            grafana_url=raw.grafana_url,
            auto_backfill=raw.auto_backfill,
            teams=teams,
            people=people,
            sources=sources,
            kpis=kpis,
            goals=shard_goals(goals, shard),
            funnels=funnels,
            lease_seconds=raw.lease.total_seconds(),
            shard=shard,
            retention=Retention(
                push_receipts=raw.retention.push_receipts,
                goal_versions=raw.retention.goal_versions,
            ),
        )

    def _shard(self, text: str | None) -> Shard | None:
        if text is None:
            return None
        try:
            return parse_shard(text)
        except ValueError as exc:
            self.problem("shard", str(exc))
            return None

    def _listen(self, listen: str) -> tuple[str, int]:
        host, _, port_text = listen.rpartition(":")
        host = host.strip("[]")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            self.problem("listen", f"must be HOST:PORT, e.g. 127.0.0.1:9464 (got {listen!r})")
            return "127.0.0.1", 9464
        return host, int(port_text)

    def _database_url(self, url: str) -> None:
        try:
            parsed = make_url(normalise_database_url(url))
        except ArgumentError:
            self.problem("database_url", "is not a database URL (e.g. sqlite:///syncd.db)")
            return
        except ValueError:
            # SQLAlchemy parses the port with int(): `54x2` would otherwise surface as a traceback.
            self.problem("database_url", "has a port that is not a number (e.g. postgresql+psycopg://h:5432/db)")
            return
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            self.problem("database_url", "must be a sqlite:/// or postgresql+psycopg:// URL")
        elif parsed.port is not None and not 0 < parsed.port < 65536:
            self.problem("database_url", f"port must be 1-65535 (got {parsed.port})")

    def _web_config(self, path: str | None) -> None:
        # `run` reads the web config and its TLS files at start: `check --offline` reads them too.
        # An `unset-VAR` placeholder (check --offline without secrets) names no file yet.
        if path is None or path.startswith("unset-"):
            return
        from syncd.serve.web_config import web_config_problems

        for problem in web_config_problems(path):
            if not problem.path:  # a problem with the file as a whole: blame the key that names it
                problem = ConfigProblem(self.file, "web_config_file", f"{path}: {problem.message}")
            self.problems.append(problem)

    def _sources(self) -> dict[str, Source]:
        return build_sources(self.raw.sources, self.file, self.registry, self.problems)

    def _people(self, sources: Mapping[str, Source]) -> dict[str, Person]:
        people: dict[str, Person] = {}
        for name, spec in self.raw.people.items():
            if name in self.raw.teams:
                self.problem(f"people.{name}", "a person cannot share a team's name")
            if spec.team is not None and spec.team not in self.raw.teams:
                self.problem(f"people.{name}.team", f"unknown team {spec.team!r}")
            for source in spec.identities:
                if source not in self.raw.sources:
                    self.problem(f"people.{name}.identities.{source}", f"unknown source {source!r}")
            for index, own in enumerate(spec.personal_goals):
                for kpi in own.kpis:
                    if kpi not in self.raw.kpis:
                        self.problem(f"people.{name}.personal_goals[{index}].kpis", f"unknown KPI {kpi!r}")
            people[name] = Person(
                name=name,
                team=spec.team,
                identities=dict(spec.identities),
                personal_goals=tuple(
                    PersonalGoal(text=own.text.strip(), by=own.by, kpis=tuple(own.kpis)) for own in spec.personal_goals
                ),
            )
        claimed: dict[tuple[str, str], str] = {}
        for person in people.values():
            for source, values in person.identities.items():
                for value in values:
                    other = claimed.setdefault((source, value), person.name)
                    if other != person.name:
                        self.problem(
                            f"people.{person.name}.identities.{source}",
                            f"{value!r} is already {other}'s identity in {source}",
                        )
        return people

    def _kpis(self, sources: Mapping[str, Source]) -> dict[str, Kpi]:
        kpis: dict[str, Kpi] = {}
        for name, spec in self.raw.kpis.items():
            path = f"kpis.{name}"
            for index, source in enumerate(spec.source):
                where = f"{path}.source" if len(spec.source) == 1 else f"{path}.source[{index}]"
                if source not in self.raw.sources:
                    self.problem(where, f"unknown source {source!r}")
                elif source in sources:
                    cls = self.registry.get(sources[source].connector)
                    metrics = [m.name for m in cls.metrics] if cls else []
                    if metrics and spec.metric not in metrics:
                        which = f" (source {source})" if len(spec.source) > 1 else ""
                        self.problem(
                            f"{path}.metric",
                            f"connector {sources[source].connector!r}{which} has no metric "
                            f"{spec.metric!r} (it has: {', '.join(metrics)})",
                        )
            kpis[name] = Kpi(
                name=name,
                source=SOURCE_JOIN.join(spec.source),
                metric=spec.metric,
                description=spec.description,
                per_person=spec.per_person,
                unit=spec.unit,
                kind=spec.kind,
                sources=spec.source,
            )
        return kpis

    def _goals(
        self,
        kpis: Mapping[str, Kpi],
        people: Mapping[str, Person],
        teams: Mapping[str, Team],
        sources: Mapping[str, Source],
    ) -> list[Goal]:
        goals: list[Goal] = []
        seen: dict[tuple[str, str, str], int] = {}
        for index, spec in enumerate(self.raw.goals):
            path = f"goals[{index}]"
            goal = self._goal(spec, path)
            kpi = kpis.get(spec.kpi)
            if kpi is None:
                self.problem(f"{path}.kpi", f"unknown KPI {spec.kpi!r}")
            if spec.owner not in people and spec.owner not in teams:
                self.problem(f"{path}.owner", f"unknown person or team {spec.owner!r}")
            elif kpi is not None and kpi.per_person:
                self._check_influence(spec.owner, kpi, people, path)
            if goal is None:
                continue
            first = seen.setdefault(goal.key, index)
            if first != index:
                self.problem(path, f"duplicate goal: goals[{first}] already sets {spec.kpi} for {spec.owner}")
                continue
            goals.append(goal)
        return goals

    def _check_influence(self, owner: str, kpi: Kpi, people: Mapping[str, Person], path: str) -> None:
        """Reject a goal on a per-person KPI that no identity ties to its owner."""
        owners = [owner] if owner in people else [p.name for p in people.values() if p.team == owner]
        if not any(source in people[name].identities for name in owners for source in kpi.sources):
            who = f"person {owner!r}" if owner in people else f"no member of team {owner!r}"
            where = f"source {kpi.source!r}" if len(kpi.sources) == 1 else f"any of sources {', '.join(kpi.sources)}"
            self.problem(
                f"{path}.owner",
                f"{who} has no identity in {where}, so KPI {kpi.name!r} (per_person) cannot count anything for them",
            )

    def _goal(self, spec: RawGoal, path: str) -> Goal | None:
        if spec.target is not None and spec.committed is not None:
            self.problem(path, "set either target or committed (+ stretch), not both")
            return None
        if spec.baseline is not None and (kpi := self.raw.kpis.get(spec.kpi)) and kpi.kind != "stock":
            self.problem(f"{path}.baseline", "a baseline applies to a stock KPI (kind: stock) only")
            return None
        if spec.direction == "at_most" and (kpi := self.raw.kpis.get(spec.kpi)) and kpi.kind != "stock":
            self.problem(f"{path}.direction", "at_most applies to a stock KPI (kind: stock) only")
            return None
        if spec.target is None and spec.committed is None:
            self.problem(path, "missing target (or committed)")
            return None
        if spec.stretch is not None and spec.committed is None:
            self.problem(f"{path}.stretch", "stretch raises committed; it needs committed, not target")
            return None
        period = _period(spec.period)
        if isinstance(period, FixedPeriodSpec) and period.last_day < period.first_day:
            self.problem(f"{path}.period.end", "must not be before start")
            return None
        checkins = checkin_levels(spec.checkins, period)
        if isinstance(checkins, str):
            self.problem(f"{path}.checkins", checkins)
            return None
        if spec.committed is not None:
            target = stretched_target(spec.committed, spec.stretch or 0.0)
        else:
            assert spec.target is not None
            target = spec.target
        return Goal(
            kpi=spec.kpi,
            owner=spec.owner,
            period=period,
            target=target,
            committed=spec.committed,
            stretch=spec.stretch,
            pacing=_pacing(spec.pacing),
            checkins=checkins,
            tolerance=spec.tolerance,
            baseline=spec.baseline,
            direction=spec.direction,
        )

    def _funnels(self, kpis: Mapping[str, Kpi]) -> dict[str, Funnel]:
        funnels: dict[str, Funnel] = {}
        for name, spec in self.raw.funnels.items():
            for index, step in enumerate(spec.steps):
                if step not in kpis:
                    self.problem(f"funnels.{name}.steps[{index}]", f"unknown KPI {step!r}")
            if len(set(spec.steps)) != len(spec.steps):
                self.problem(f"funnels.{name}.steps", "a KPI appears twice")
            if spec.domino is not None and spec.domino not in spec.steps:
                self.problem(f"funnels.{name}.domino", f"{spec.domino!r} is not one of the funnel's steps")
            funnels[name] = Funnel(
                name=name,
                steps=tuple(spec.steps),
                period=_period(spec.period),
                min_volume=spec.min_volume,
                domino=spec.domino or "",
                uplift=spec.uplift,
            )
        return funnels


def build_sources(
    raw_sources: Mapping[str, Any],
    file: str,
    registry: ConnectorRegistry,
    problems: list[ConfigProblem],
) -> dict[str, Source]:
    """Validate each source against its connector's own settings model."""
    sources: dict[str, Source] = {}
    for name, body in raw_sources.items():
        path = f"sources.{name}"
        if not isinstance(body, dict):
            problems.append(ConfigProblem(file, path, "must be a mapping of settings"))
            continue
        type_name = body.get("connector")
        if not isinstance(type_name, str) or not type_name:
            problems.append(ConfigProblem(file, f"{path}.connector", "missing required key (the connector type)"))
            continue
        cls = registry.get(type_name)
        if cls is None:
            known = ", ".join(registry.names()) or "none"
            problems.append(
                ConfigProblem(file, f"{path}.connector", f"unknown connector {type_name!r} (known: {known})")
            )
            continue
        try:
            settings = cls.settings_model.model_validate(body)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, file, path))
            continue
        if settings.api_key is None and settings.requires_api_key:
            problems.append(ConfigProblem(file, f"{path}.api_key", "missing required key (the vendor credential)"))
            continue
        sources[name] = Source(name=name, connector=type_name, settings=settings)
    return sources


def _period(spec: str | RawCustomPeriod) -> PeriodSpec:
    if isinstance(spec, RawCustomPeriod):
        return FixedPeriodSpec(first_day=spec.start, last_day=spec.end)
    return RecurringPeriodSpec(kind=spec)  # type: ignore[arg-type]


def _pacing(spec: str | RawWeights) -> PacingSpec:
    if isinstance(spec, RawWeights):
        weekday: dict[int, float] = {}
        month: dict[int, float] = {}
        for key, weight in spec.weights.items():
            name = key.lower()
            for day_index, day_name in enumerate(WEEKDAYS):
                if name in (day_name, day_name[:3]):
                    weekday[day_index] = weight
            for month_index, month_name in enumerate(MONTHS, start=1):
                if name in (month_name, month_name[:3]):
                    month[month_index] = weight
        return CustomWeightsSpec(weekday=weekday, month=month)
    if spec == "business_days":
        return "business_days"
    return "history" if spec == "history" else "linear"
