"""`coi image publish`: stop (cleanly, then by force), publish, alias; and its refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coi.cli.errors import run_guarded
from coi.cli.main import cli
from tests.unit.test_image_cmd_fake import FakeIncus, image_json, use_fake


def fake_with(monkeypatch: pytest.MonkeyPatch, status: str = "Running",
              ephemeral: bool = False) -> FakeIncus:
    fake = FakeIncus(image_json("old", "taken"),
                     instances={"box": {"status": status, "ephemeral": ephemeral}})
    use_fake(monkeypatch, fake)
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_guarded(cli, ["image", "publish", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def calls(fake: FakeIncus, method: str) -> list[Any]:
    return [(path, body) for m, path, body in fake.calls if m == method]


def test_publish_stops_a_running_container_then_publishes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_with(monkeypatch)
    code, out, _ = run(capsys, "box", "mine", "--description", "my image",
                       "--compression", "none")
    fp = fake._alias("mine")["fingerprint"]
    assert code == 0
    assert out == f"Published box as mine ({fp[:12]}) (box was stopped for this and stays " \
                  "stopped)\n"
    assert [body["force"] for _, body in calls(fake, "PUT")] == [False]
    (_, body), = calls(fake, "POST")[:1]
    assert body["compression_algorithm"] == "none"
    assert body["properties"] == {"description": "my image"}
    assert fake.instances["box"]["status"] == "Stopped"


def test_publish_kills_a_container_that_does_not_stop_in_time(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_with(monkeypatch)
    fake.stop_refusals = 1
    assert run(capsys, "box", "mine")[0] == 0
    assert [body["force"] for _, body in calls(fake, "PUT")] == [False, True]


def test_publish_a_stopped_container_as_json(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_with(monkeypatch, status="Stopped")
    code, out, _ = run(capsys, "box", "mine", "--json")
    assert code == 0
    assert json.loads(out) == {"fingerprint": fake._alias("mine")["fingerprint"],
                               "alias": "mine"}
    assert not calls(fake, "PUT")
    assert "compression_algorithm" not in calls(fake, "POST")[0][1]


def test_an_existing_alias_is_refused_before_anything_changes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_with(monkeypatch)
    code, out, err = run(capsys, "box", "taken")
    assert (code, out) == (6, "")
    assert err == ("coi: error: image alias 'taken' exists already "
                   "(pass --force to move it to the new image)\n")
    assert fake.instances["box"]["status"] == "Running"
    assert len(fake.images) == 1


def test_force_moves_an_existing_alias(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_with(monkeypatch, status="Stopped")
    code, out, _ = run(capsys, "box", "taken", "--force", "--json")
    assert code == 0
    assert fake._alias("taken")["fingerprint"] == json.loads(out)["fingerprint"]
    assert sorted(fake.aliases().values()) == [[], ["taken"]]


def test_a_missing_container(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_with(monkeypatch)
    code, _, err = run(capsys, "nobox", "mine")
    assert code == 5
    assert err == "coi: error: no container named 'nobox' (`coi list` shows containers)\n"


def test_a_running_ephemeral_container_is_not_stopped(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_with(monkeypatch, ephemeral=True)
    code, _, err = run(capsys, "box", "mine")
    assert code == 1
    assert "ephemeral" in err
    assert not calls(fake, "PUT")
