from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coi.images.versions import to_clean_up, version_time, versioned_name, versions


def test_versioned_name_is_utc_stamp() -> None:
    when = datetime(2026, 11, 27, 14, 5, 9, tzinfo=UTC)
    assert versioned_name("coi", when) == "coi-20261127-140509"
    assert version_time("coi", "coi-20261127-140509") == when


@pytest.mark.parametrize("alias", [
    "coi", "coi-base", "coi-rust-20261127-140509", "coi-20261327-140509",
    "coi-20261127-1405", "xcoi-20261127-140509",
])
def test_other_aliases_are_not_versions(alias: str) -> None:
    assert version_time("coi", alias) is None


def test_cleanup_keeps_the_newest() -> None:
    aliases = ["coi", "coi-20250101-000000", "coi-20261127-140509", "coi-20260601-120000",
               "coi-base", "coi-rust-20250101-000000"]
    assert versions("coi", aliases)[0] == "coi-20261127-140509"
    assert to_clean_up("coi", aliases, keep=1) == ["coi-20260601-120000", "coi-20250101-000000"]
    assert to_clean_up("coi", aliases, keep=5) == []
    with pytest.raises(ValueError):
        to_clean_up("coi", aliases, keep=0)


@given(st.lists(st.integers(min_value=0, max_value=10**8), unique=True, max_size=12),
       st.integers(min_value=1, max_value=12))
def test_cleanup_never_removes_the_kept_newest(offsets: list[int], keep: int) -> None:
    base = datetime(2020, 1, 1, tzinfo=UTC)
    aliases = [versioned_name("img", base + timedelta(seconds=s)) for s in offsets]
    removed = to_clean_up("img", aliases, keep)
    kept = set(aliases) - set(removed)
    assert len(kept) == min(keep, len(aliases))
    assert all(version_time("img", k) >= version_time("img", r)  # type: ignore[operator]
               for k in kept for r in removed)
