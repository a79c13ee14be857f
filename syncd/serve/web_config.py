"""The optional web configuration file: TLS and basic auth, as Prometheus exporters take them.

The format follows the exporter-toolkit's web config (`tls_server_config.cert_file`/`key_file`,
`basic_auth_users: {name: bcrypt hash}`), so ops can reuse what they already write.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from syncd.errors import ConfigError, ConfigProblem
from syncd.yaml_limits import LimitedLoaderMixin, YamlLimitError, check_expanded_size, read_text_file

__all__ = ["PROBE_PATHS", "WebConfig", "bcrypt_cost", "load_web_config", "web_config_problems"]

# Liveness and readiness answer "ok"/"ready" and nothing else, so opening them leaks nothing.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})

# `$2b$12$` + 22 characters of salt + 31 of hash, as htpasswd -B and bcrypt.hashpw write it.
_BCRYPT = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")


class _WebLoader(LimitedLoaderMixin, yaml.SafeLoader):
    """The safe loader with syncd's depth and alias limits."""


def bcrypt_cost(hashed: bytes) -> int:
    """Return the cost (log2 rounds) of a bcrypt hash that load_web_config accepted."""
    return int(hashed[4:6])


class _Tls(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cert_file: str
    key_file: str
    min_version: str = "TLS12"


class _RawWebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tls_server_config: _Tls | None = None
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    # syncd's own key (not exporter-toolkit's): kubelet and HEALTHCHECK probes carry no credentials.
    probes_without_auth: bool = True


@dataclass(frozen=True)
class WebConfig:
    """TLS files and bcrypt-hashed users; empty means plain HTTP without auth."""

    cert_file: str | None = None
    key_file: str | None = None
    min_tls: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    users: tuple[tuple[str, bytes], ...] = ()
    probes_without_auth: bool = True

    @property
    def open_paths(self) -> frozenset[str]:
        """Paths served without basic auth: the probes, unless the file says otherwise."""
        return PROBE_PATHS if self.probes_without_auth else frozenset()

    def ssl_context(self) -> ssl.SSLContext | None:
        """Return a server SSL context, reading the files now so rotated certificates are picked up."""
        if self.cert_file is None or self.key_file is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = self.min_tls
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def load_web_config(path: str) -> WebConfig:
    """Read a web config file; raise ConfigError naming the file and key on any problem."""
    try:
        document = yaml.load(read_text_file(path), Loader=_WebLoader) or {}  # noqa: S506 - a SafeLoader
        check_expanded_size(document)
        if not isinstance(document, dict):
            raise ConfigError([ConfigProblem(path, "", "must be a YAML mapping (tls_server_config, basic_auth_users)")])
        raw = _RawWebConfig.model_validate(document)
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(path, "", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([ConfigProblem(path, "", "is a directory, not a file")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(path, "", f"cannot read the file: {exc.strerror}")]) from None
    except YamlLimitError as exc:
        raise ConfigError([ConfigProblem(path, "", str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise ConfigError([ConfigProblem(path, "", f"invalid YAML{where}: {problem}")]) from None
    except ValidationError as exc:
        raise ConfigError(
            [ConfigProblem(path, ".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]
        ) from None
    tls = raw.tls_server_config
    versions = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
    if tls is not None and tls.min_version not in versions:
        raise ConfigError([ConfigProblem(path, "tls_server_config.min_version", "must be TLS12 or TLS13")])
    for user, hashed in raw.basic_auth_users.items():
        if not _BCRYPT.match(hashed):
            raise ConfigError([ConfigProblem(path, f"basic_auth_users.{user}", "must be a bcrypt hash (htpasswd -B)")])
    return WebConfig(
        cert_file=tls.cert_file if tls else None,
        key_file=tls.key_file if tls else None,
        min_tls=versions[tls.min_version] if tls else ssl.TLSVersion.TLSv1_2,
        users=tuple((user, hashed.encode()) for user, hashed in raw.basic_auth_users.items()),
        probes_without_auth=raw.probes_without_auth,
    )


def web_config_problems(path: str) -> list[ConfigProblem]:
    """Return what `run` would fail on: the file itself, then its TLS files (present and loadable)."""
    try:
        config = load_web_config(path)
    except ConfigError as exc:
        return exc.problems
    if config.cert_file is None:
        return []
    for name, file in (("cert_file", config.cert_file), ("key_file", config.key_file)):
        try:
            with open(str(file), "rb"):
                pass
        except OSError as exc:
            return [ConfigProblem(path, f"tls_server_config.{name}", f"cannot read {file!r}: {exc.strerror}")]
    try:
        config.ssl_context()
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return [ConfigProblem(path, "tls_server_config", f"the certificate and key do not load: {reason}")]
    return []
