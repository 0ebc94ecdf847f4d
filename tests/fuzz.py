"""Shared pieces of the property-based (hypothesis) fuzz suite: bounded settings and strategies.

Bounded by default so CI stays fast: each test names a small example count, multiplied by
HFTCTL_FUZZ_SCALE (e.g. HFTCTL_FUZZ_SCALE=50 for a long local run). No deadline: the machines
are shared and noisy, and a slow example is not a failure.

Profiles (HYPOTHESIS_PROFILE overrides): "ci" when CI is set (.ci/run's clean clone): examples
derived from a fixed seed, so a CI run is reproducible and never fails on a find that a rerun
would not repeat; "dev" elsewhere: fresh random examples each run and hypothesis' database of
past failures, replayed first.
"""

from __future__ import annotations

import math
import os
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("HFTCTL_FUZZ_SCALE", "1")))
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def examples(n: int, **kw: Any) -> settings:
    """Settings of one property: ``n`` examples (times HFTCTL_FUZZ_SCALE), no deadline, the
    loaded profile for the rest."""
    return settings(max_examples=n * SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture], **kw)


# Numbers and strings that break naive code: non-finite, huge, tiny, negative zero, numeric text.
NASTY_FLOATS = st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e300, -1e300, 1e-300,
                                5e-324, -0.0, 0.0, 1.0, -1.0, 2.0 ** 63, 0.1 + 0.2])
NASTY_INTS = st.sampled_from([0, -1, 1, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, -(2 ** 63), 2 ** 64 - 1, 10 ** 30])
NASTY_TEXT = st.sampled_from(["", " ", "nan", "inf", "-inf", "1e400", "-0", "0x10", "1_000", "NaN",
                              "Infinity", "\x00", "\u202e", "😀", "a" * 5000, "../../etc/passwd",
                              "BTCUSDT@depth", "{}", "[]", "null", "true", "\ud800".encode(
                                  "utf-8", "surrogatepass").decode("utf-8", "replace")])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), NASTY_INTS,
                    st.floats(allow_nan=False, allow_infinity=False), NASTY_TEXT, st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=20)


def _finite(x: float) -> float | str:
    """JSON has no nan/inf: exchanges never send them as numbers, but may as strings."""
    return x if math.isfinite(x) else str(x)


def from_type(t: Any, depth: int = 0) -> st.SearchStrategy:
    """JSON-able values shaped like msgspec type ``t``: mostly right, sometimes wrong types,
    missing or extra fields, nasty numbers, so decoders see near-misses, not only noise."""
    wrong = json_values if depth < 3 else scalars
    if isinstance(t, mi.StructType):
        fields = {f.encode_name: f for f in t.fields}
        base = {name: from_type(f.type, depth + 1) for name, f in fields.items()}
        fixed = st.fixed_dictionaries(
            {n: s for n, s in base.items() if fields[n].required},
            optional={n: s for n, s in base.items() if not fields[n].required})
        if t.tag_field is not None:
            tag = st.one_of(st.just(t.tag), st.just(t.tag), NASTY_TEXT)
            fixed = st.builds(lambda d, v: {**d, t.tag_field: v}, fixed, tag)
        mutated = st.builds(_mutate_dict, fixed, st.sampled_from(sorted(fields) or [""]), wrong,
                            st.integers(0, 3))
        return st.one_of(fixed, mutated)
    if isinstance(t, mi.IntType):
        return st.one_of(st.integers(-(2 ** 64), 2 ** 64), NASTY_INTS, st.just(1.5), NASTY_TEXT)
    if isinstance(t, mi.FloatType):
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(str),
                         st.floats(allow_nan=False, allow_infinity=False), NASTY_FLOATS.map(_finite),
                         NASTY_TEXT, st.integers())
    if isinstance(t, mi.StrType):
        return st.one_of(st.text(max_size=30), NASTY_TEXT, st.integers())
    if isinstance(t, mi.BoolType):
        return st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None]))
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        return st.one_of(st.lists(from_type(t.item_type, depth + 1), max_size=4), wrong)
    if isinstance(t, mi.TupleType):
        return st.one_of(st.tuples(*(from_type(x, depth + 1) for x in t.item_types)).map(list),
                         st.lists(scalars, max_size=4), wrong)
    if isinstance(t, mi.DictType):
        return st.one_of(st.dictionaries(st.text(max_size=8), from_type(t.value_type, depth + 1), max_size=4), wrong)
    if isinstance(t, mi.UnionType):
        return st.one_of(*(from_type(x, depth) for x in t.types))
    if isinstance(t, mi.LiteralType):
        return st.one_of(st.sampled_from(list(t.values)), NASTY_TEXT)
    return wrong       # Any, None, UNSET, raw...: anything goes


def _mutate_dict(d: dict, key: str, value: Any, how: int) -> dict:
    d = dict(d)
    if how == 0:
        d.pop(key, None)           # a required field missing
    elif how == 1:
        d[key] = value             # a field of the wrong type
    elif how == 2:
        d["zz_unknown"] = value    # an unknown field (must be ignored)
    return d


def json_bytes(t: type) -> st.SearchStrategy[bytes]:
    """Encoded JSON shaped like type ``t``, sometimes truncated or with a byte replaced."""
    doc = from_type(mi.type_info(t)).map(lambda v: msgspec.json.encode(v))
    return st.one_of(doc, st.builds(_damage, doc, st.integers(0, 10_000), st.integers(0, 255), st.booleans()))


def _damage(raw: bytes, at: int, byte: int, truncate: bool) -> bytes:
    if not raw:
        return raw
    i = at % len(raw)
    return raw[:i] if truncate else raw[:i] + bytes([byte]) + raw[i + 1:]


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path to a leaf or a container in a JSON document."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _replace(doc: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        doc = dict(doc)
        if delete and not rest:
            doc.pop(head, None)
        else:
            doc[head] = _replace(doc[head], rest, value, delete)
    elif isinstance(doc, list):
        doc = list(doc)
        if delete and not rest:
            doc.pop(head)
        else:
            doc[head] = _replace(doc[head], rest, value, delete)
    return doc


NASTY = st.one_of(NASTY_TEXT, NASTY_INTS, NASTY_FLOATS.map(_finite), scalars,
                  st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=4), scalars, max_size=2))


def near_misses(sample: Any) -> st.SearchStrategy[bytes]:
    """A valid message with one to three of its parts replaced by nasty values or deleted, so
    every other field is right and the checks deep in a decoder are reached."""
    paths = _paths(sample)

    @st.composite
    def build(draw) -> bytes:
        doc = sample
        for _ in range(draw(st.integers(1, 3))):
            live = _paths(doc) or paths
            path = draw(st.sampled_from(live))
            try:
                doc = _replace(doc, path, draw(NASTY), draw(st.booleans()) and draw(st.booleans()))
            except (KeyError, IndexError, TypeError):
                pass
        return msgspec.json.encode(doc)
    return st.one_of(build(), st.builds(_damage, st.just(msgspec.json.encode(sample)),
                                        st.integers(0, 10_000), st.integers(0, 255), st.booleans()))


# The values every field of a valid message is tried with, one field at a time.
SWEEP_VALUES = ["inf", "-inf", "nan", "1e400", "-1", "", "0", "1e-400", 2 ** 63, 10 ** 30, -(2 ** 63) - 1,
                1.5, -1, None, True, [], {}, "x" * 300, "\x00"]


def single_field_sweep(sample: Any):
    """Every valid-but-one variant of ``sample``: each part replaced by each SWEEP_VALUE, or
    deleted (deterministic; hypothesis explores the combinations)."""
    for path in _paths(sample):
        yield path, "deleted", msgspec.json.encode(_replace(sample, path, None, True))
        for v in SWEEP_VALUES:
            yield path, v, msgspec.json.encode(_replace(sample, path, v, False))
