"""`CONTAINER:PATH` parsing for `coi file`, and the CLI's answer to a malformed one."""

from __future__ import annotations

import pytest

from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.errors import UsageError
from coi.ops.transfer import RemotePath, parse_remote


@pytest.mark.parametrize(("spec", "expected"), [
    ("coi-abc12345-1:/workspace/a.txt", RemotePath("coi-abc12345-1", "/workspace/a.txt")),
    ("web:/", RemotePath("web", "/")),
    ("web:/a//b/../c/", RemotePath("web", "/a/c")),
    ("web:/with:colon", RemotePath("web", "/with:colon")),
])
def test_valid_specs(spec: str, expected: RemotePath) -> None:
    assert parse_remote(spec) == expected
    assert str(parse_remote(spec)) == f"{expected.container}:{expected.path}"


@pytest.mark.parametrize("spec", ["", "nocolon", ":/x", "web:", "web:relative",
                                  "under_score:/x", "-lead:/x", "a/b:/x"])
def test_malformed_specs_name_the_form(spec: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_remote(spec)
    assert "CONTAINER:PATH" in caught.value.message
    assert "absolute" in str(caught.value)


def test_cli_rejects_a_malformed_spec_before_any_daemon_call(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = run_guarded(cli, ["file", "push", "somefile", "nocolon"])
    assert code == 2
    assert "CONTAINER:PATH" in capsys.readouterr().err
