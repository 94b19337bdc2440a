"""``lookalike serve``'s start check: a non-loopback address needs an API key or --no-auth.

Nothing listens here: a refusal stops before Uvicorn starts, and an allowed start hands its
settings to a stand-in for ``uvicorn.run`` that records them instead of binding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from lookalike.cli.main import app

runner = CliRunner()


def serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """(exit code, all output with its line wrapping undone) of ``lookalike serve`` over an empty
    collection (``serve`` stops where there is none)."""
    (tmp_path / "empty").mkdir(exist_ok=True)
    made = runner.invoke(app, ["index", str(tmp_path / "empty"), "--data", str(tmp_path / "data")])
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["serve", "--data", str(tmp_path / "data"), *args], env=env or {})
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each start Uvicorn would have made: its host and port (no socket is opened)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append(options))
    return calls


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "gallery.lan"])
def test_a_network_address_without_a_key_is_refused(
    tmp_path: Path, started: list[dict[str, Any]], host: str
) -> None:
    code, said = serve(tmp_path, "--host", host)
    assert code == 2 and started == []
    assert f"refusing to serve on {host!r} without an API key" in said
    assert "LOOKALIKE_SERVE__API_KEY" in said and "--no-auth" in said


def test_no_auth_starts_on_a_network_address_with_a_warning(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    code, said = serve(tmp_path, "--host", "0.0.0.0", "--port", "8123", "--no-auth")
    assert code == 0, said
    assert started == [{"host": "0.0.0.0", "port": 8123}]
    assert "Warning: --no-auth: anyone who reaches this address can add and delete images" in said


def test_the_no_auth_setting_and_a_key_start_too(tmp_path: Path, started: list[dict[str, Any]]) -> None:
    assert serve(tmp_path, "--host", "0.0.0.0", env={"LOOKALIKE_SERVE__NO_AUTH": "true"})[0] == 0
    code, said = serve(tmp_path, "--host", "0.0.0.0", env={"LOOKALIKE_SERVE__API_KEY": "k3y"})
    assert code == 0 and "Warning" not in said
    assert [c["host"] for c in started] == ["0.0.0.0", "0.0.0.0"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_key(tmp_path: Path, started: list[dict[str, Any]], host: str) -> None:
    code, said = serve(tmp_path, "--host", host)
    assert code == 0, said
    assert started[0]["host"] == host and "writes need no key" in said
