"""Properties of the one merge function, checked against a flat reference model."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from coi.config.merge import Layer, flatten, merge_layers
from coi.config.origin import Origin

NAMES = st.sampled_from(["a", "b", "c", "mode", "env"])
LEAVES = st.one_of(st.booleans(), st.integers(-3, 3), st.text(max_size=3),
                   st.lists(st.text(max_size=2), max_size=3))
TABLES: st.SearchStrategy[dict[str, Any]] = st.recursive(
    st.dictionaries(NAMES, LEAVES, max_size=3),
    lambda children: st.dictionaries(NAMES, st.one_of(LEAVES, children), max_size=3),
    max_leaves=12,
)
LAYERS = st.lists(TABLES, max_size=5).map(
    lambda datas: [Layer(Origin("user", f"file{i}"), d) for i, d in enumerate(datas)])


EMPTY = "<empty table>"


def leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Like flatten, but an empty table shows up as EMPTY (it still replaces a leaf)."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict) and value:
            out.update(leaves(value, key))
        else:
            out[key] = EMPTY if isinstance(value, dict) else value
    return out


def reference(layers: list[Layer]) -> dict[str, tuple[Any, Origin | None]]:
    """Merge as flat key → (value, origin). A value replaces the same key and any key of
    another shape it overlaps; an empty table only replaces leaves above or at it."""
    flat: dict[str, tuple[Any, Origin | None]] = {}
    for layer in layers:
        for key, value in leaves(dict(layer.data)).items():
            below = [k for k in flat if k.startswith(key + ".")]
            above = [k for k in flat if key.startswith(k + ".") or k == key]
            if value == EMPTY and below:
                continue  # merging {} into a table changes nothing
            for old in above + below:
                del flat[old]
            flat[key] = (value, None if value == EMPTY else layer.origin)
    return flat


@given(LAYERS)
def test_merge_matches_the_reference_model(layers: list[Layer]) -> None:
    merged = merge_layers(layers)
    expected = reference(layers)
    assert leaves(merged.data) == {k: v for k, (v, _) in expected.items()}
    assert merged.origins == {k: o for k, (_, o) in expected.items() if o is not None}


@given(LAYERS)
def test_merge_does_not_touch_its_inputs(layers: list[Layer]) -> None:
    before = copy.deepcopy([layer.data for layer in layers])
    merged = merge_layers(layers)
    for leaf_list in (v for _, v in flatten(merged.data) if isinstance(v, list)):
        leaf_list.append("mutated")
    assert [layer.data for layer in layers] == before


@given(TABLES, TABLES)
def test_a_key_a_later_layer_omits_keeps_its_value(first: dict[str, Any],
                                                   second: dict[str, Any]) -> None:
    merged = merge_layers([Layer(Origin("system", "s"), first), Layer(Origin("user", "u"), second)])
    second_keys = leaves(second)
    for key, value in flatten(first):
        overlapped = any(k == key or k.startswith(key + ".") or key.startswith(k + ".")
                         for k in second_keys)
        if not overlapped:
            assert dict(flatten(merged.data))[key] == value
            assert merged.origins[key] == Origin("system", "s")


@given(TABLES)
def test_merging_with_nothing_changes_nothing(data: dict[str, Any]) -> None:
    alone = merge_layers([Layer(Origin("user", "u"), data)])
    padded = merge_layers([Layer(Origin("default"), {}), Layer(Origin("user", "u"), data),
                           Layer(Origin("flag"), {})])
    assert alone == padded
    assert dict(flatten(alone.data)) == dict(flatten(data))


def test_lists_replace_and_tables_merge() -> None:
    merged = merge_layers([
        Layer(Origin("system", "s"), {"n": {"allow": ["a", "b"], "env": {"X": "1"}}}),
        Layer(Origin("user", "u"), {"n": {"allow": ["c"], "env": {"Y": "2"}}}),
    ])
    assert merged.data == {"n": {"allow": ["c"], "env": {"X": "1", "Y": "2"}}}
    assert merged.origins["n.env.X"] == Origin("system", "s")
