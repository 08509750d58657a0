"""The core of `coi image`: which images a listing shows, which may go, cleanup plans."""

from __future__ import annotations

import pytest

from coi.errors import AlreadyExists, UsageError
from coi.images import catalog
from coi.images.cleanup import normalize_prefix, plan
from coi.incus.images import Image
from tests.unit.test_image_cmd_fake import fingerprint, image_json


def img(seed: str, *aliases: str, created: str = "2025-01-01T12:00:00Z") -> Image:
    return Image.from_api(image_json(seed, *aliases, created=created, description=seed))


V1, V2, V3 = "coi-20250101-120000", "coi-20250201-120000", "coi-20250301-120000"


@pytest.mark.parametrize(("alias", "prefix"), [
    (V1, "coi"), ("my-proj-20250101-120000", "my-proj"), ("coi", None),
    ("coi-base", None), ("coi-20251301-120000", None), ("coi-2025010-120000", None)])
def test_version_prefix(alias: str, prefix: str | None) -> None:
    assert catalog.version_prefix(alias) == prefix


def test_version_of_names_the_newest_version_on_the_same_image() -> None:
    image = img("a", "coi", V1, V2, "other-20250101-120000")
    assert catalog.version_of("coi", image) == V2
    assert catalog.version_of("other", img("b", "other")) is None


@pytest.mark.parametrize(("aliases", "typed", "expected"), [
    (("coi", V1), V1, "coi"),          # what the user typed wins
    (("coi", V1), "coi", "coi"),
    (("coi", V1, "x"), None, "coi"),   # by fingerprint: the plain alias with versions
    ((V1,), None, "coi"),              # only a version: its prefix
    (("coi-base",), None, "coi-base"),
    ((), None, None),
])
def test_family(aliases: tuple[str, ...], typed: str | None, expected: str | None) -> None:
    assert catalog.family(img("a", *aliases), typed) == expected


def test_select_coi_images_by_default() -> None:
    images = [img("1", "ubuntu"), img("2", "coi-base"), img("3", "coi", V1), img("4"),
              img("5", "my-rust"), img("6", "coiffure")]
    names = [i.aliases[0] for i in catalog.select(images)]
    assert names == ["coi", "coi-base"]  # sorted by first alias; not ubuntu, coiffure
    with_default = catalog.select(images, default="my-rust")
    assert [i.aliases[0] for i in with_default] == ["coi", "coi-base", "my-rust"]


def test_select_everything_puts_unaliased_last_and_prefix_filters() -> None:
    images = [img("1", "ubuntu"), img("4"), img("2", "coi-base"), img("5", "proj-a", "x")]
    assert [i.aliases for i in catalog.select(images, everything=True)] == [
        ("coi-base",), ("proj-a", "x"), ("ubuntu",), ()]
    assert [i.aliases for i in catalog.select(images, prefix="proj-")] == [("proj-a", "x")]
    assert catalog.select(images, prefix="nothing") == []


def test_target_of() -> None:
    images = [img("1", "ubuntu"), img("2", "coi", V1)]
    assert catalog.target_of("coi", images) is images[1]
    assert catalog.target_of("gone", images) is None


def test_protected_aliases_are_coi_and_the_configured_default() -> None:
    assert catalog.protected_aliases("coi") == {"coi"}
    assert catalog.protected_aliases("my-rust") == {"coi", "my-rust"}


def test_check_deletable_refuses_the_default_image() -> None:
    protected = catalog.protected_aliases("my-rust")
    catalog.check_deletable(img("1", V1), protected)
    with pytest.raises(AlreadyExists, match=r"default image \(alias coi\)") as caught:
        catalog.check_deletable(img("2", "coi", V2), protected)
    assert caught.value.hint == "pass --force to delete it anyway"
    with pytest.raises(AlreadyExists, match="my-rust"):
        catalog.check_deletable(img("3", "my-rust"), protected)


def test_image_record_is_the_documented_shape() -> None:
    record = catalog.image_record(img("a", "coi", V1))
    assert record == {
        "aliases": ["coi", V1], "fingerprint": fingerprint("a"), "size_bytes": 3 * 1024 * 1024,
        "created_at": "2025-01-01T12:00:00Z", "description": "a",
        "properties": {"description": "a"},
    }


def test_info_record_adds_versions() -> None:
    this, older = img("a", "coi", V2), img("b", V1)
    data = catalog.Info(this, "coi", [catalog.Version(V2, this), catalog.Version(V1, older)])
    record = catalog.info_record(data)
    assert set(record) - set(catalog.image_record(this)) == {
        "architecture", "uploaded_at", "type", "public", "prefix", "versions"}
    assert record["prefix"] == "coi"
    assert record["versions"] == [
        {"alias": V2, "fingerprint": fingerprint("a"), "created_at": this.created_at,
         "current": True},
        {"alias": V1, "fingerprint": fingerprint("b"), "created_at": older.created_at,
         "current": False}]


# -- cleanup plans --------------------------------------------------------------------


def test_plan_keeps_the_newest_and_deletes_the_rest() -> None:
    images = [img("1", V1), img("2", V2), img("3", V3), img("x", "other-20200101-000000")]
    result = plan("coi", images, keep=1)
    assert result.kept == (V3,)
    assert [d.aliases for d in result.deleted] == [(V2,), (V1,)]
    assert [d.fingerprint for d in result.deleted] == [fingerprint("2"), fingerprint("1")]
    assert result.spared == ()


def test_plan_never_deletes_the_image_a_plain_alias_points_at() -> None:
    # `coi` was moved back to an older version (a rollback): that image must stay.
    images = [img("1", V1), img("2", "coi", V2), img("3", V3)]
    result = plan("coi", images, keep=1)
    assert [d.aliases for d in result.deleted] == [(V1,)]
    assert [(s.alias, s.held_by) for s in result.spared] == [(V2, ("coi",))]


def test_plan_spares_an_image_a_kept_version_shares() -> None:
    images = [img("1", V1), img("2", V2, V3)]
    result = plan("coi", images, keep=1)
    assert [(s.alias, s.held_by) for s in result.spared] == [(V2, (V3,))]
    assert [d.aliases for d in result.deleted] == [(V1,)]


def test_plan_deletes_an_image_with_two_old_versions_once() -> None:
    images = [img("1", V1, V2), img("3", V3)]
    result = plan("coi", images, keep=1)
    assert [d.aliases for d in result.deleted] == [(V1, V2)]


def test_plan_spares_a_protected_version() -> None:
    images = [img("1", V1), img("2", V2), img("3", V3)]
    result = plan("coi", images, keep=1, protected={V1})
    assert [d.aliases for d in result.deleted] == [(V2,)]
    assert [(s.alias, s.held_by) for s in result.spared] == [(V1, (V1,))]


def test_plan_with_fewer_versions_than_keep_deletes_nothing() -> None:
    result = plan("coi", [img("1", V1)], keep=3)
    assert (result.kept, result.deleted, result.spared) == ((V1,), (), ())


def test_cleanup_json_shape() -> None:
    result = plan("coi", [img("1", V1), img("2", "coi", V2), img("3", V3)], keep=1)
    assert result.to_json() == {
        "prefix": "coi", "dry_run": True, "kept": [V3],
        "deleted": [{"fingerprint": fingerprint("1"), "aliases": [V1]}],
        "spared": [{"alias": V2, "fingerprint": fingerprint("2"), "held_by": ["coi"]}],
    }


@pytest.mark.parametrize(("given", "expected"), [("coi", "coi"), ("coi-", "coi"),
                                                 (" proj- ", "proj")])
def test_normalize_prefix(given: str, expected: str) -> None:
    assert normalize_prefix(given) == expected


@pytest.mark.parametrize("given", ["", "-", "  "])
def test_normalize_prefix_refuses_an_empty_one(given: str) -> None:
    with pytest.raises(UsageError, match="must not be empty"):
        normalize_prefix(given)
