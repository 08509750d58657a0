"""The schema read from the model: value formats, env var table, and the docs in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coi.config import ENV_VARS, Config
from coi.config import checks as c
from coi.config.checks import Check
from coi.config.schema import leaf_keys, resolve, schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.mark.parametrize(("check", "good", "bad"), [
    (c.CPU, ["", "2", "0-3", "0,2", "0-1,4"], ["0", "two", "2 ", "-1", "1-"]),
    (c.CPU_ALLOWANCE, ["", "50%", "100%", "25ms/100ms"], ["0%", "150%", "50", "25ms"]),
    (c.MEMORY, ["", "2GiB", "512MB", "1.5GB", "50%"], ["2", "2 GiB", "2gb", "0%", "101%"]),
    (c.DISK_RATE, ["", "50MB", "1000iops", "10MiB"], ["50", "fast", "50MB/s"]),
    (c.DURATION, ["", "2h", "45m", "1h30m", "90s"], ["2", "forever", "h", "30m2h"]),
    (c.DESTINATION, ["a.com", "api.anthropic.com:443", "10.0.0.1", "8.8.8.0/24"],
     ["", "*.a.com", "https://a.com", "a com", "-a.com"]),
    (c.PROXY_URL, ["", "http://proxy:3128", "socks5://10.0.0.1:1080"],
     ["proxy:3128", "ftp://x", "http://user:pw@proxy"]),
    (c.RELATIVE_PATH, [".git/hooks", ".vscode", "src/*.env"], ["", "/etc", "~/.ssh", "../x"]),
    (c.ENV_NAME, ["A", "_X1", "RUST_BACKTRACE"], ["", "1A", "A-B", "A B"]),
    (c.PROFILE_NAME, ["rust", "my-web_2"], ["", "a.b", "a b"]),
])
def test_format_checks(check: Check, good: list[str], bad: list[str]) -> None:
    assert [v for v in good if not check.test(v)] == []
    assert [v for v in bad if check.test(v)] == []


def test_defaults_are_the_documented_ones() -> None:
    cfg = Config()
    assert cfg.defaults.image == "coi" and cfg.defaults.mount_claude_config is True
    assert cfg.network.mode == "restricted" and cfg.network.refresh_interval_minutes == 30
    assert cfg.monitoring.enabled is True
    assert cfg.monitoring.nft.rate_limit_per_second == 100
    assert cfg.security.protected_paths == (
        ".git/hooks", ".git/config", ".husky", ".vscode", ".coi.toml",
        ".claude/settings.json", ".claude/settings.local.json", ".codex/config.toml")
    assert cfg.incus.code_uid == 1000 and cfg.session.save_interval_minutes == 5


def test_every_env_var_names_a_leaf_key() -> None:
    assert all(var.key in leaf_keys() for var in ENV_VARS)
    assert len({var.name for var in ENV_VARS}) == len(ENV_VARS)


def test_resolve_handles_maps_profiles_and_aliases() -> None:
    assert resolve("defaults.environment.ANY") is not None
    assert resolve("profiles.rust.image") == schema()["defaults.image"]
    assert resolve("profiles.rust.environment.X") is not None
    assert resolve("profiles.rust.network.allowed_domains") == schema()["network.allowlist"]
    assert resolve("profiles.rust.profiles.x") is None
    assert resolve("network.nope") is None


def documented_keys() -> set[str]:
    """Keys named in the docs' reference tables: rows like "| `network.mode` | ..."."""
    return set(re.findall(r"^\| `([a-z_.]+)` \|", DOCS.read_text(), flags=re.MULTILINE))


def test_docs_describe_every_key_and_nothing_else() -> None:
    assert set(leaf_keys()) - documented_keys() == set()
    assert documented_keys() - set(leaf_keys()) == set()


def test_docs_list_every_env_var() -> None:
    text = DOCS.read_text()
    for var in ENV_VARS:
        assert f"| `{var.name}` | `{var.key}` |" in text


def test_docs_defaults_match_the_model() -> None:
    # The type column may hold escaped pipes (`a` \| `b`).
    rows = re.findall(r"^\| `([a-z_.]+)` \| (?:\\\||[^|])+ \| `([^`]*)` \|",
                      DOCS.read_text(), flags=re.MULTILINE)
    assert len(rows) == len(leaf_keys())
    from coi.config.dump import format_value

    for key, documented in rows:
        assert documented == format_value(schema()[key].default), key
