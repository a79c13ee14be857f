"""`syncd run` failing to start serving: one clear line, the contract's exit code, no traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.processes import SYNCD


def run_syncd(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "syncd.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'syncd.db'}\n{body}")
    return subprocess.run(
        [SYNCD, "run", "--config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_syncd(tmp_path, f"listen: 127.0.0.1:{port}\n")
    assert result.returncode == 1
    assert f"error: listen 127.0.0.1:{port}: the address is already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_unresolvable_listen_host_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_syncd(tmp_path, "listen: no-such-host.invalid:9464\n")
    assert result.returncode == 2
    assert "error: listen no-such-host.invalid:9464: cannot resolve host 'no-such-host.invalid'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("missing", ["cert_file", "key_file"])
def test_a_missing_tls_file_is_a_configuration_error_naming_it(tmp_path: Path, missing: str) -> None:
    files = {"cert_file": tmp_path / "cert.pem", "key_file": tmp_path / "key.pem"}
    for name, path in files.items():
        if name != missing:
            path.write_text("placeholder\n")
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {files['cert_file']}\n  key_file: {files['key_file']}\n")
    result = run_syncd(tmp_path, f"listen: 127.0.0.1:9464\nweb_config_file: {web}\n")
    assert result.returncode == 2
    assert f"{web}: tls_server_config.{missing}: cannot read '{files[missing]}'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
