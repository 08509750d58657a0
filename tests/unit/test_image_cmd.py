"""`coi image …` as a user sees it (output, exit status), against a fake image store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.errors import IncusUnreachable
from tests.unit.test_image_cmd_fake import FakeIncus, fingerprint, image_json, use_fake

V1, V2, V3 = "coi-20250101-120000", "coi-20250201-120000", "coi-20250301-120000"


def store() -> FakeIncus:
    return FakeIncus(
        image_json("1", V1, description="old"),
        image_json("2", "coi", V2, description="coi image"),
        image_json("3", V3, created="2025-03-01T12:00:00.123456789Z"),
        image_json("u", "ubuntu/24.04", size=512),
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_guarded(cli, ["image", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeIncus:
    fake = store()
    use_fake(monkeypatch, fake)
    return fake


def test_list_shows_the_default_alias_and_coi_images(
        fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert code == 0
    assert lines[:2] == ["COI Images:", f"  ✓ coi → {V2} ({fingerprint('2')[:12]}, 3.0 MiB)"]
    rows = [line.split() for line in lines[3:7]]
    assert rows[0] == ["ALIASES", "FINGERPRINT", "SIZE", "CREATED", "DESCRIPTION"]
    assert rows[1] == ["coi", "→", V2, fingerprint("2")[:12], "3.0", "MiB", "2025-01-01",
                       "12:00", "coi", "image"]
    assert [r[0] for r in rows[2:]] == [V1, V3]
    assert "ubuntu/24.04" not in out
    assert lines[-1] == "Tip: `coi image list --all` lists every local image."


def test_list_marks_a_missing_default(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    use_fake(monkeypatch, store(), default="my-rust")
    _, out, _ = run(capsys, "list")
    assert out.splitlines()[1] == "  ✗ my-rust (not built; `coi build` builds it)"


def test_list_all_adds_every_local_image(fake: FakeIncus,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "list", "--all")
    assert "All Local Images:" in out
    assert "ubuntu/24.04" in out and "512 B" in out
    assert "Tip:" not in out


@pytest.mark.parametrize("flag", [["--json"], ["--format", "json"], ["--format=json"]])
def test_list_json(fake: FakeIncus, capsys: pytest.CaptureFixture[str], flag: list[str]) -> None:
    code, out, _ = run(capsys, "list", *flag)
    doc = json.loads(out)
    assert code == 0
    assert [d["aliases"] for d in doc] == [["coi", V2], [V1], [V3]]
    assert doc[0] == {"aliases": ["coi", V2], "fingerprint": fingerprint("2"),
                      "size_bytes": 3 * 1024 * 1024, "created_at": "2025-01-01T12:00:00Z",
                      "description": "coi image", "properties": {"description": "coi image"}}


def test_list_prefix(fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "list", "--prefix", "ubuntu/")
    assert out.splitlines()[0] == "Images with prefix 'ubuntu/':"
    assert "ubuntu/24.04" in out and V1 not in out
    _, out, _ = run(capsys, "list", "--prefix", "nope-")
    assert out == "No images with an alias starting with 'nope-'.\n"
    _, out, _ = run(capsys, "list", "--prefix", "ubuntu/", "--json")
    assert [d["aliases"] for d in json.loads(out)] == [["ubuntu/24.04"]]


@pytest.mark.parametrize(("name", "status"), [
    ("coi", 0), (V1, 0), (fingerprint("3")[:12], 0), ("missing", 1)])
def test_exists(fake: FakeIncus, capsys: pytest.CaptureFixture[str], name: str,
                status: int) -> None:
    assert run(capsys, "exists", name) == (status, "", "")


def test_exists_reports_a_daemon_error(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    use_fake(monkeypatch, FakeIncus(fail=IncusUnreachable("cannot reach the Incus daemon")))
    code, out, err = run(capsys, "exists", "coi")
    assert (code, out) == (4, "")
    assert err == "coi: error: cannot reach the Incus daemon\n"


def test_delete_by_alias_says_what_went(fake: FakeIncus,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "delete", V1)
    assert (code, out) == (0, f"Deleted image {fingerprint('1')[:12]} ({V1})\n")
    assert fingerprint("1")[:12] not in fake.aliases()


def test_delete_by_fingerprint_json(fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "delete", fingerprint("3")[:12], "--json")
    assert code == 0
    assert json.loads(out) == {"fingerprint": fingerprint("3"), "aliases": [V3]}


def test_delete_refuses_the_default_image_unless_forced(
        fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "delete", V2)
    assert (code, out) == (6, "")
    assert err == (f"coi: error: image {fingerprint('2')[:12]} is the default image "
                   "(alias coi) (pass --force to delete it anyway)\n")
    assert fingerprint("2")[:12] in fake.aliases()
    code, out, _ = run(capsys, "delete", V2, "--force")
    assert (code, out) == (0, f"Deleted image {fingerprint('2')[:12]} (coi → {V2})\n")


def test_delete_missing_image(fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "delete", "missing")
    assert code == 5
    assert err == ("coi: error: no image 'missing' "
                   "(`coi image list --all` shows every local image)\n")


def test_cleanup_keeps_newest_and_spares_the_plain_alias_target(
        fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cleanup", "coi-", "--keep", "1")
    assert code == 0
    assert out.splitlines() == [
        "Deleted 1 old version(s) of coi:", f"  - {V1} ({fingerprint('1')[:12]})",
        "Kept the 1 newest version(s):", f"  - {V3}",
        "Spared 1 old version(s) still in use:", f"  - {V2} ({fingerprint('2')[:12]}): "
        "in use by coi"]
    assert sorted(fake.aliases().values()) == [["coi", V2], [V3], ["ubuntu/24.04"]]


def test_cleanup_dry_run_deletes_nothing(fake: FakeIncus,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cleanup", "coi", "--keep", "1", "--dry-run", "--json")
    assert code == 0
    assert json.loads(out)["deleted"] == [{"fingerprint": fingerprint("1"), "aliases": [V1]}]
    assert json.loads(out)["dry_run"] is True
    assert len(fake.images) == 4
    assert not [c for c in fake.calls if c[0] == "DELETE"]


def test_cleanup_spares_an_image_an_alias_moved_onto_meanwhile(
        fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    # A build points `coi` at the oldest version after cleanup listed the images, but
    # before it deleted them: the fresh look just before deleting must notice.
    listed = fake.get

    def get(path: str, params: Any = None, context: str = "") -> Any:
        result = listed(path, params, context)
        if path == "/images":
            fake.images[fingerprint("1")]["aliases"].append({"name": "coi-rollback"})
        return result

    fake.get = get  # type: ignore[method-assign]
    code, out, _ = run(capsys, "cleanup", "coi", "--keep", "1", "--json")
    assert code == 0
    assert json.loads(out)["deleted"] == []
    assert {"alias": V1, "fingerprint": fingerprint("1"), "held_by": ["coi-rollback"]} in \
        json.loads(out)["spared"]
    assert fingerprint("1") in fake.images


def test_cleanup_without_versions(fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "cleanup", "proj", "--keep", "2")[1] == (
        "No proj-YYYYMMDD-HHMMSS versions found; nothing to clean up.\n")


@pytest.mark.parametrize("argv", [["coi", "--keep", "0"], ["coi", "--keep", "-1"],
                                  ["coi", "--keep", "x"], ["coi"]])
def test_cleanup_needs_a_positive_keep(fake: FakeIncus, capsys: pytest.CaptureFixture[str],
                                       argv: list[str]) -> None:
    code, _, err = run(capsys, "cleanup", *argv)
    assert code == 2
    assert "--keep" in err
    assert not fake.calls


def test_info_shows_versions_of_the_family(fake: FakeIncus,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "coi")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"Aliases:      coi → {V2}"
    assert f"Fingerprint:  {fingerprint('2')}" in lines
    assert "Architecture: x86_64" in lines
    assert "  description: coi image" in lines
    tail = lines[lines.index("Versions of coi: (* this image)") + 1:]
    assert [line.split()[:2] for line in tail] == [[V3, fingerprint("3")[:12]], ["*", V2],
                                                   [V1, fingerprint("1")[:12]]]


def test_info_json(fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", V1, "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["fingerprint"], doc["prefix"]) == (fingerprint("1"), "coi")
    assert [(v["alias"], v["current"]) for v in doc["versions"]] == [
        (V3, False), (V2, False), (V1, True)]


def test_info_missing_image(fake: FakeIncus, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "info", "missing")[0] == 5
