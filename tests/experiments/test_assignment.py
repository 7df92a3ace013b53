"""Assignment must place every user exactly where the GrowthBook SDK does.

Expected values come from GrowthBook's shared SDK conformance fixture
(`../shared/data/growthbook-sdk-cases.json`, a copy of growthbook/growthbook `packages/sdk-js/test/cases.json`)
and from the GrowthBook Python SDK itself (PyPI `growthbook` 4.0, `growthbook.core`), called per user.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from growthbook import Experiment, GrowthBook
from growthbook.core import chooseVariation, gbhash, getBucketRanges, getEqualWeights, inNamespace

from experiments.assignment import assign, bucket_ranges, choose_arm, equal_weights, hash_ids, in_namespace
from experiments.errors import ExperimentError

CASES_PATH = Path(__file__).parents[2].parent / "shared" / "data" / "growthbook-sdk-cases.json"


@pytest.fixture(scope="module")
def cases() -> dict:
    if not CASES_PATH.exists():
        pytest.skip(f"GrowthBook conformance cases not found at {CASES_PATH}")
    return json.loads(CASES_PATH.read_text())


# ------------------------------------------------------------------ the SDK's conformance fixture


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_hash_cases(cases, engine):
    for seed, user_id, version, expected in cases["hash"]:  # cases.json "hash": [seed, id, version, expected]
        got = hash_ids(seed, [user_id], version, engine=engine)[0]
        if expected is None:
            assert np.isnan(got), (seed, user_id, version)
        else:
            assert got == expected, (seed, user_id, version)


def test_bucket_range_cases(cases):
    for name, (n, coverage, weights), expected in cases["getBucketRange"]:  # cases.json "getBucketRange"
        got = bucket_ranges(n, coverage, weights)
        assert np.allclose(got, expected, atol=1e-9), name
        assert got == getBucketRanges(n, coverage, weights), name  # and the exact floats of the Python SDK


def test_choose_variation_cases(cases):
    for name, n, ranges, expected in cases["chooseVariation"]:  # cases.json "chooseVariation"
        assert choose_arm(np.array([n]), [tuple(r) for r in ranges])[0] == expected, name


def test_equal_weights_cases(cases):
    for n, expected in cases["getEqualWeights"]:  # cases.json "getEqualWeights" (8 decimals)
        assert np.allclose(equal_weights(n), expected, atol=1e-8) and len(equal_weights(n)) == len(expected)
        assert equal_weights(n) == getEqualWeights(n)


def test_in_namespace_cases(cases):
    for name, user_id, namespace, expected in cases["inNamespace"]:  # cases.json "inNamespace"
        assert bool(in_namespace([user_id], tuple(namespace))[0]) is expected, name


# ------------------------------------------------------------------ against the Python SDK, per user


def _mixed_ids(n: int, seed: int = 7) -> list[str]:
    """Numeric strings, uuids, random Unicode (Latin, CJK, emoji and other non-BMP, lone surrogates) and empty ids."""
    rng = np.random.default_rng(seed)
    quarter = n // 4
    numeric = [str(v) for v in rng.integers(0, 10**12, quarter)]
    uuids = [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(quarter)]
    blocks = [(0x20, 0x7F), (0xA0, 0x250), (0x400, 0x500), (0x4E00, 0x9FFF), (0xD800, 0xDFFF),
              (0xE000, 0xFFFF), (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF)]
    unicode = []
    for length in rng.integers(1, 16, n - 3 * quarter - 50):
        picks = rng.integers(0, len(blocks), length)
        unicode.append("".join(chr(int(rng.integers(*blocks[b]))) for b in picks))
    mixed_case = [f"User_{v}@Shop.example" for v in rng.integers(0, 10**6, quarter)]
    edge = ["", "", "\x00", "a\x00", "0", "9" * 40, "😀", "\U0010ffff", "\ud83d\ude00", "\ud83d"] * 5
    ids = numeric + uuids + unicode + mixed_case + edge
    rng.shuffle(ids)
    return ids


IDS = _mixed_ids(100_000)
SEEDS = ["winback-2026-q4", "sé😀d"]
CONFIGS = [  # (weights, coverage): even, uneven, many arms, reduced/zero coverage, sums the SDK replaces
    ([0.5, 0.5], 1.0),
    ([0.2, 0.3, 0.5], 0.2),
    ([0.1] * 10, 0.73),
    ([0.4, 0.5999], 1.0),  # sums to 0.9999: kept (cases.json "weights sum almost equals 1")
    ([0.4, 0.1], 0.5),  # sums to 0.5: equal weights instead
    ([0.7, 0.6], 1.0),  # sums to 1.3: equal weights instead
    ([1.0], 0.5),
    ([0.25, 0.25, 0.5], 0.0),
]


@pytest.fixture(scope="module")
def sdk_hashes() -> dict[tuple[str, int], list]:
    """gbhash for every id, seed and version, computed one user at a time by the SDK."""
    return {(seed, v): [gbhash(seed, user_id, v) for user_id in IDS] for seed in SEEDS for v in (1, 2)}


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("seed", SEEDS)
def test_hash_matches_sdk_on_100k_ids(sdk_hashes, seed, version):
    expected = np.array(sdk_hashes[(seed, version)], dtype=float)
    ascii_only = np.array([user_id.isascii() for user_id in IDS])
    no_trailing_nul = np.array([not user_id.endswith("\x00") for user_id in IDS])  # numpy 'U' drops those
    for engine in ("numba", "numpy"):
        # a list with lone surrogates (code-point path), ASCII only (Arrow bytes), a fixed-width 'U' array
        assert np.array_equal(hash_ids(seed, IDS, version, engine=engine), expected)
        ascii_ids = [user_id for user_id, keep in zip(IDS, ascii_only) if keep]
        assert np.array_equal(hash_ids(seed, ascii_ids, version, engine=engine), expected[ascii_only])
        array = np.array(IDS)[no_trailing_nul]
        assert np.array_equal(hash_ids(seed, array, version, engine=engine), expected[no_trailing_nul])
    assert 0.5 < ascii_only.mean() < 0.9


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_hash_of_arrow_utf8_series_matches_sdk(sdk_hashes, engine):
    """pandas 3 `str` Series are read as UTF-8 bytes straight from Arrow (lone surrogates cannot be stored there)."""
    keep = np.array([not any(0xD800 <= ord(c) <= 0xDFFF for c in user_id) for user_id in IDS])
    series = pd.Series(np.array(IDS, dtype=object)[keep], dtype="str").iloc[3:]
    expected = np.array(sdk_hashes[(SEEDS[1], 2)], dtype=float)[keep][3:]
    assert np.array_equal(hash_ids(SEEDS[1], series, 2, engine=engine), expected)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("seed", SEEDS)
def test_assign_matches_sdk_on_100k_ids(sdk_hashes, seed, version):
    hashes = sdk_hashes[(seed, version)]
    empty = np.array([user_id == "" for user_id in IDS])
    for weights, coverage in CONFIGS:
        ranges = getBucketRanges(len(weights), coverage, weights)
        expected = np.array([chooseVariation(n, ranges) for n in hashes])
        expected[empty] = -1  # the SDK's run() skips an empty hash attribute (growthbook/core.py `if not hashValue`)
        got = assign(IDS, seed=seed, weights=weights, coverage=coverage, hash_version=version)
        differences = int((got != expected).sum())
        assert differences == 0, (weights, coverage, differences)
    assert (empty.sum(), len(IDS)) == (10, 100_000)


def test_assign_matches_sdk_run_end_to_end():
    """The SDK's full `GrowthBook.run`, user by user, on a sample (it is ~100 µs a user)."""
    sample = IDS[:1500] + ["", "😀", "\U0010ffff"]
    for weights, coverage, version in [([0.2, 0.3, 0.5], 0.9, 2), ([0.5, 0.5], 0.6, 1)]:
        experiment = Experiment(key="demo-winback", variations=list(range(len(weights))), weights=weights,
                                coverage=coverage, hashVersion=version)
        expected = []
        for user_id in sample:
            result = GrowthBook(attributes={"id": user_id}).run(experiment)
            expected.append(result.variationId if result.inExperiment else -1)
        got = assign(sample, seed="demo-winback", weights=weights, coverage=coverage, hash_version=version)
        assert got.tolist() == expected


def test_unsupported_hash_version_assigns_nobody():
    # cases.json "hash": version 99 gives no hash; the SDK then skips the experiment
    assert assign(IDS[:100], seed="s", weights=[0.5, 0.5], hash_version=3).tolist() == [-1] * 100
    assert np.isnan(hash_ids("s", IDS[:100], 0)).all()


def test_in_namespace_matches_sdk():
    ids = IDS[:5000]
    for namespace in [("checkout", 0.0, 0.35), ("emails", 0.35, 1.0)]:
        expected = [inNamespace(user_id, namespace) for user_id in ids]
        assert in_namespace(ids, namespace).tolist() == expected


# ------------------------------------------------------------------ inputs and outputs


def test_every_input_kind_gives_the_same_arms():
    ids = [i for i in IDS[:20_000] if not any(0xD800 <= ord(c) <= 0xDFFF for c in i) and not i.endswith("\x00")]
    kwargs = dict(seed="s", weights=[0.2, 0.3, 0.5], coverage=0.9)
    reference = assign(ids, **kwargs)
    series = pd.Series(ids)  # pandas 3: Arrow-backed `str`
    chunked = pd.concat([series.iloc[:7000], series.iloc[7000:]], ignore_index=True)
    for variant in [tuple(ids), np.array(ids), np.array(ids, dtype=object), series, chunked,
                    pd.Series(ids, dtype=object), pd.Series(ids, dtype="string[python]"), pd.Index(ids),
                    pd.Series(ids, dtype="string[pyarrow]"), pd.Series(ids, dtype=pd.ArrowDtype(pa.string())),
                    pd.Series(ids, dtype=pd.ArrowDtype(pa.large_string()))]:
        assert np.array_equal(assign(variant, **kwargs), reference), type(variant)
    assert np.array_equal(assign(series.iloc[5:], **kwargs), reference[5:])  # a sliced Arrow array


def test_output_dtype_and_shape():
    assert assign([], seed="s", weights=[1.0]).shape == (0,)
    assert assign(["a", "b"], seed="s", weights=[0.5, 0.5]).dtype == np.int8
    many = assign(IDS[:50_000], seed="s", weights=[1 / 200] * 200)
    assert many.dtype == np.int16 and many.max() > 127 and many.min() == -1  # -1 only for the 10 empty ids


def test_assignment_is_deterministic_and_seed_dependent():
    first = assign(IDS[:10_000], seed="a", weights=[0.5, 0.5])
    assert np.array_equal(first, assign(list(IDS[:10_000]), seed="a", weights=[0.5, 0.5]))
    assert (first != assign(IDS[:10_000], seed="b", weights=[0.5, 0.5])).mean() > 0.4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(weights=[]), "weights must name at least one arm, got an empty list"),
        (dict(weights=[0.6, -0.1, 0.5]), "weights must be finite and non-negative, got -0.1 in [0.6, -0.1, 0.5]"),
        (dict(weights=[0.5, float("nan")]), "weights must be finite and non-negative, got nan in [0.5, nan]"),
        (dict(weights=["x"]), "weights must be a list of numbers, got ['x']"),
        (dict(weights=[1.0], coverage=-0.1), "coverage must be a number between 0 and 1, got -0.1"),
        (dict(weights=[1.0], coverage=1.5), "coverage must be a number between 0 and 1, got 1.5"),
        (dict(weights=[1.0], coverage=float("nan")), "coverage must be a number between 0 and 1, got nan"),
        (dict(weights=[1.0], seed=12), "seed must be a string, got 12"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ExperimentError) as error:
        assign(["a"], **{"seed": "s", **kwargs})
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["a", 7, "b"], "user id at position 1 is 7 (int); every user id must be a string"),
        (["a", b"b"], "user id at position 1 is b'b' (bytes); every user id must be a string"),
        ([b"a", b"b"], "user id at position 0 is b'a' (bytes); every user id must be a string"),
        (["a", None], "user id at position 1 is None (NoneType); every user id must be a string"),
        (pd.Series(["a", None]), "user id at position 1 is missing; every user id must be a string"),
        (pd.Series(["a", None], dtype=object),
         "user id at position 1 is None (NoneType); every user id must be a string"),
        ("abc", "user_ids must be a sequence of strings, got a single string"),
        (np.array([["a", "b"]]), "user_ids must be one-dimensional, got shape (1, 2)"),
    ],
)
def test_bad_ids_are_clear_errors(ids, message):
    with pytest.raises(ExperimentError) as error:
        assign(ids, seed="s", weights=[1.0])
    assert str(error.value) == message
