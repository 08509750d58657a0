"""/etc/subuid and /etc/subgid parsing and idempotent editing (temp files only)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from coi.host import subids
from coi.host.subids import SubId

DEBIAN_DEFAULT = "root:1000000:1000000000\n"


def test_parse_skips_comments_and_malformed_lines() -> None:
    text = "# comment\nroot:1000000:1000000000\nbroken line\nalice:100000:65536 # home\n:x:1\n"
    assert subids.parse(text) == [SubId("root", 1000000, 1000000000),
                                  SubId("alice", 100000, 65536)]


def test_covers_joins_adjacent_ranges_and_sees_gaps() -> None:
    entries = [SubId("root", 1000, 500), SubId("root", 1500, 64036), SubId("bob", 0, 99999)]
    assert subids.covers(entries, 1000, 64536)
    assert not subids.covers([SubId("root", 1000, 500), SubId("root", 1600, 100)], 1000, 700)
    assert not subids.covers(entries, 0, 1)  # bob's range is not root's


def test_fresh_debian_host_needs_only_the_user_range() -> None:
    assert subids.needed_grants(subids.parse(DEBIAN_DEFAULT)) == [SubId("root", 1000, 64536)]


def test_empty_file_needs_both_grants() -> None:
    assert subids.needed_grants([]) == [SubId("root", 1000, 64536),
                                        SubId("root", 1000000, 1000000000)]


def test_single_uid_grants_do_not_count_as_the_user_range() -> None:
    entries = subids.parse(DEBIAN_DEFAULT + "root:1000:1\n")
    assert subids.needed_grants(entries) == [SubId("root", 1000, 64536)]


def test_container_range_moves_above_other_users_ranges() -> None:
    entries = [SubId(f"user{i}", 100000 + 65536 * i, 65536) for i in range(20)]
    grant = subids.container_range(entries)
    assert grant.start >= max(e.end for e in entries)
    assert not any(grant.start < e.end and e.start < grant.end for e in entries)


def test_user_range_is_never_mistaken_for_a_container_range() -> None:
    # Incus keeps only root ranges of >= 65536 ids as container ranges (FilterPOSIX).
    assert subids.USER_RANGE[1] < subids.POSIX_SIZE
    assert not subids.has_container_range([SubId("root", *subids.USER_RANGE)])


def test_uid_zero_is_never_granted() -> None:
    for grant in subids.needed_grants([]):
        assert grant.start > 0


def test_with_grants_appends_and_keeps_existing_text() -> None:
    text = "# keep me\nroot:1000000:1000000000"  # no trailing newline
    out = subids.with_grants(text, [SubId("root", 1000, 64536)])
    assert out == "# keep me\nroot:1000000:1000000000\nroot:1000:64536\n"
    assert subids.with_grants(text, []) == text


def test_ensure_grants_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "subuid"
    path.write_text("alice:100000:65536\n" + DEBIAN_DEFAULT)
    assert subids.ensure_grants(path) == [SubId("root", 1000, 64536)]
    first = path.read_text()
    assert subids.ensure_grants(path) == []
    assert path.read_text() == first
    assert first.startswith("alice:100000:65536\n")
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_ensure_grants_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "subgid"
    subids.ensure_grants(path)
    assert subids.needed_grants(subids.parse(path.read_text())) == []


ranges = st.lists(st.tuples(st.sampled_from(["root", "alice", "bob"]),
                            st.integers(0, 2_000_000), st.integers(1, 2_000_000)), max_size=6)


@given(ranges)
def test_after_granting_nothing_more_is_needed(raw: list[tuple[str, int, int]]) -> None:
    text = "".join(f"{owner}:{start}:{count}\n" for owner, start, count in raw)
    once = subids.with_grants(text, subids.needed_grants(subids.parse(text)))
    assert subids.needed_grants(subids.parse(once)) == []
    assert once.startswith(text)
