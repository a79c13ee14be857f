"""The optional web configuration file: TLS and basic auth, as Prometheus exporters take them.

The format follows the exporter-toolkit's web config (`tls_server_config.cert_file`/`key_file`,
`basic_auth_users: {name: bcrypt hash}`), so ops can reuse what they already write.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from syncd.errors import ConfigError, ConfigProblem

__all__ = ["PROBE_PATHS", "WebConfig", "load_web_config"]

# Liveness and readiness answer "ok"/"ready" and nothing else, so opening them leaks nothing.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


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
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        raw = _RawWebConfig.model_validate(document)
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(path, "", "file not found")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(path, "", f"invalid YAML: {exc}")]) from None
    except ValidationError as exc:
        raise ConfigError(
            [ConfigProblem(path, ".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]
        ) from None
    tls = raw.tls_server_config
    versions = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
    if tls is not None and tls.min_version not in versions:
        raise ConfigError([ConfigProblem(path, "tls_server_config.min_version", "must be TLS12 or TLS13")])
    for user, hashed in raw.basic_auth_users.items():
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ConfigError([ConfigProblem(path, f"basic_auth_users.{user}", "must be a bcrypt hash (htpasswd -B)")])
    return WebConfig(
        cert_file=tls.cert_file if tls else None,
        key_file=tls.key_file if tls else None,
        min_tls=versions[tls.min_version] if tls else ssl.TLSVersion.TLSv1_2,
        users=tuple((user, hashed.encode()) for user, hashed in raw.basic_auth_users.items()),
        probes_without_auth=raw.probes_without_auth,
    )
