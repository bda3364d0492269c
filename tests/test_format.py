"""The description format: round trips, and clean one-line errors for malformed files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import description as fmt
from models import factory
from gen.cli.entry import main


def base_doc() -> dict:
    """A valid description using thermometer, conv (bipolar+mask, sparse), pool, scores."""
    rng = np.random.default_rng(0)
    inp = fmt.InputSpec(6, 6, 1, 4)
    enc = fmt.Thermometer(np.array([[2, 5, 9, 14]]))
    c0 = factory.random_conv(rng, "c0", (6, 6, 4), out_channels=4, kernel=(3, 3), stride=(1, 1),
                             padding=(1, 1), pad_bit=0, groups=2, domain="bipolar", prune=0.5)
    c1 = factory.random_conv(rng, "c1", (6, 6, 4), out_channels=4, kernel=(1, 1), stride=(1, 1),
                             padding=(0, 0), groups=1, domain="sparse")
    pool = fmt.MaxPool("pool", (2, 2), (2, 2), (3, 3, 4))
    cls = factory.random_conv(rng, "fc", (3, 3, 4), out_channels=3, scores=True, dense=True,
                              domain="bipolar", prune=0.0)
    desc = fmt.Description("base", inp, enc, (c0, c1, pool, cls), {"origin": "test"})
    return json.loads(fmt.dumps(desc))


def test_base_is_valid():
    doc = base_doc()
    assert doc["layers"][0]["mask"] and doc["layers"][1]["domain"] == "sparse"
    fmt.from_dict(doc)


def _set(path, value):
    def edit(doc):
        *head, last = path
        target = doc
        for key in head:
            target = target[key]
        target[last] = value
    return edit


def _delete(path):
    def edit(doc):
        *head, last = path
        target = doc
        for key in head:
            target = target[key]
        del target[last]
    return edit


def _edit(fn):
    return fn


L0, L1, L3 = ("layers", 0), ("layers", 1), ("layers", 3)

# (id, how to break the document, text the one-line error must contain)
MALFORMED = [
    ("missing-format-version", _delete(("format_version",)), "field 'format_version': missing"),
    ("newer-format-version", _set(("format_version",), 99), "field 'format_version': version 99"),
    ("format-version-string", _set(("format_version",), "1"), "'format_version': expected an int"),
    ("unknown-top-field", _set(("colour",), "blue"), "field 'colour': unknown field"),
    ("missing-input", _delete(("input",)), "field 'input': missing field"),
    ("zero-bits", _set(("input", "bits"), 0), "layer input: field 'bits'"),
    ("height-string", _set(("input", "height"), "6"), "layer input: field 'height': expected an"),
    ("absurd-height", _set(("input", "height"), 10 ** 6), "field 'height': 1000000 is above"),
    ("unknown-encoder", _set(("encoder", "kind"), "sigma-delta"), "layer encoder: field 'kind'"),
    ("unsorted-thresholds", _set(("encoder", "thresholds"), [[2, 9, 5, 14]]),
     "layer encoder: field 'thresholds': row 0 is not strictly increasing"),
    ("threshold-zero", _set(("encoder", "thresholds"), [[0, 5, 9, 14]]),
     "field 'thresholds': 0 is below the minimum 1"),
    ("threshold-above-range", _set(("encoder", "thresholds"), [[2, 5, 9, 16]]),
     "field 'thresholds': 16 is above the maximum 15"),
    ("threshold-float", _set(("encoder", "thresholds"), [[2, 5.5, 9, 14]]),
     "field 'thresholds': expected an integer"),
    ("threshold-rows", _set(("encoder", "thresholds"), [[2, 5], [3, 6]]),
     "field 'thresholds': expected 1 (shared) or 1 rows"),
    ("layer-missing-kind", _delete((*L1, "kind")), "layer #1 'c1': field 'kind': missing"),
    ("layer-unknown-kind", _set((*L1, "kind"), "lstm"), "layer #1 'c1': field 'kind': unknown"),
    ("conv-unknown-field", _set((*L0, "bias"), [0]), "layer #0 'c0': field 'bias': unknown"),
    ("conv-missing-weights", _delete((*L0, "weights")), "layer #0 'c0': field 'weights': miss"),
    ("groups-not-dividing-in", _set((*L0, "groups"), 3), "field 'groups': 3 does not divide"),
    ("groups-zero", _set((*L0, "groups"), 0), "layer #0 'c0': field 'groups': 0 is below"),
    ("weight-rows", _edit(lambda d: d["layers"][0]["weights"].pop()),
     "layer #0 'c0': field 'weights': expected 4 entries, got 3"),
    ("weight-length", _edit(lambda d: d["layers"][0]["weights"].__setitem__(0, "ff")),
     "layer #0 'c0': field 'weights': output channel 0: expected"),
    ("weight-not-hex", _edit(lambda d: d["layers"][1]["weights"].__setitem__(2, "zz")),
     "layer #1 'c1': field 'weights': output channel 2: not a hex"),
    ("weight-stray-bits", _edit(lambda d: d["layers"][1]["weights"].__setitem__(0, "f0")),
     "field 'weights': output channel 0: bits set beyond the last weight"),
    ("mask-length", _edit(lambda d: d["layers"][0]["mask"].__setitem__(1, "00")),
     "layer #0 'c0': field 'mask': output channel 1"),
    ("mask-in-sparse", _set((*L1, "mask"), ["0"] * 4), "field 'mask': a mask is only allowed"),
    ("shape-does-not-chain", _set((*L0, "output_shape"), [6, 6, 5]),
     "layer #0 'c0': field 'output_shape': is [6, 6, 5]"),
    ("scores-not-last", _edit(lambda d: d["layers"][1].update(
        scores={"scale": [1] * 4, "offset": [0] * 4}, activation=None) or
        d["layers"][1].pop("activation")), "layer #1 'c1': field 'scores': only the last layer"),
    ("last-not-scores", _edit(lambda d: d["layers"].pop()),
     "layer #2 'pool': field 'scores': the last layer must be"),
    ("pad-bit-two", _set((*L0, "pad_bit"), 2), "layer #0 'c0': field 'pad_bit': 2 is above"),
    ("pad-bit-bool", _set((*L0, "pad_bit"), True), "field 'pad_bit': expected an integer, got a b"),
    ("unknown-domain", _set((*L0, "domain"), "ternary"), "layer #0 'c0': field 'domain'"),
    ("sparse-without-q", _delete((*L1, "q")), "layer #1 'c1': field 'q': missing"),
    ("flip-two", _set((*L0, "activation", "flip"), [0, 2, 0, 0]), "'activation.flip': 2 is above"),
    ("activation-count", _set((*L0, "activation", "thresholds"), [1, 2]),
     "field 'activation.thresholds': expected 4 entries, got 2"),
    ("activation-and-scores", _set((*L0, "scores"), {"scale": [1] * 4, "offset": [0] * 4}),
     "layer #0 'c0': field 'activation': exactly one"),
    ("kernel-too-large", _set((*L3, "kernel"), [5, 5]), "layer #3 'fc': field 'kernel': 5x5 is"),
    ("scale-zero", _set((*L3, "scores", "scale"), [0, 1, 1]), "'scores.scale': 0 is below"),
    ("duplicate-name", _set((*L1, "name"), "c0"), "layer #1 'c0': field 'name': duplicate"),
    ("no-layers", _set(("layers",), []), "field 'layers': a network needs"),
    ("layer-not-object", _set(("layers", 2), "pool"), "layer #2: expected an object"),
    ("pool-stride-zero", _set(("layers", 2, "stride"), [0, 2]), "layer #2 'pool': field 'stride'"),
]

# (id, file bytes, text the error must contain)
MALFORMED_TEXT = [
    ("empty-file", b"", "empty file"),
    ("whitespace-only", b"  \n\t", "empty file"),
    ("not-json", b"layers: [conv, pool]\n", "not valid JSON"),
    ("truncated", None, "not valid JSON"),
    ("top-level-list", b"[1, 2, 3]", "expected a JSON object at the top"),
    ("binary-garbage", b"\xff\xfe\x00garbage", "not UTF-8"),
]


def _validate(tmp_path, capsys, data: bytes):
    path = tmp_path / "model.json"
    path.write_bytes(data)
    code = main(["validate", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err, str(path)


@pytest.mark.parametrize("name,edit,expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_description_is_one_clean_line(tmp_path, capsys, name, edit, expected):
    doc = base_doc()
    edit(doc)
    code, out, err, path = _validate(tmp_path, capsys, json.dumps(doc).encode())
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"bnngen: error: {path}: ")
    assert expected in err, err


@pytest.mark.parametrize("name,data,expected", MALFORMED_TEXT, ids=[m[0] for m in MALFORMED_TEXT])
def test_malformed_file_is_one_clean_line(tmp_path, capsys, name, data, expected):
    if data is None:
        data = json.dumps(base_doc()).encode()[:200]
    code, out, err, path = _validate(tmp_path, capsys, data)
    assert code == 2 and err.count("\n") == 1 and expected in err, err


def test_missing_file(tmp_path, capsys):
    code = main(["validate", str(tmp_path / "nope.json")])
    err = capsys.readouterr().err
    assert code == 2 and "nope.json: cannot read" in err


def test_cli_subprocess_has_no_traceback(tmp_path):
    """The installed console path, for real: exit code and stderr of a separate process."""
    path = tmp_path / "bad.json"
    doc = base_doc()
    doc["layers"][0]["groups"] = 3
    path.write_text(json.dumps(doc))
    run = subprocess.run([sys.executable, "-m", "gen.cli", "validate", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert "layer #0 'c0': field 'groups'" in run.stderr


def test_limits_are_configurable(tmp_path, capsys):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(base_doc()))
    assert main(["validate", str(path), "--max-weight-bits", "100"]) == 2
    assert "exceed the limit 100" in capsys.readouterr().err


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("seed", range(60))
def test_save_load_save_is_byte_identical(tmp_path, seed):
    desc = factory.random_description(seed)
    first = tmp_path / "a.json"
    fmt.save(desc, first)
    loaded = fmt.load(first)
    second = tmp_path / "b.json"
    fmt.save(loaded, second)
    assert first.read_bytes() == second.read_bytes()
    for a, b in zip(desc.layers, loaded.layers):
        if isinstance(a, fmt.Conv):
            np.testing.assert_array_equal(a.weights, b.weights)
            np.testing.assert_array_equal(a.kept, b.kept)
    assert list(tmp_path.iterdir()) == [first, second] or sorted(tmp_path.iterdir()) == sorted(
        [first, second])  # no temporary files left behind


def test_shipped_models_round_trip():
    from pathlib import Path
    for path in sorted(Path("models/zoo").glob("*.json")):
        text = path.read_text()
        assert fmt.dumps(fmt.loads(text)) == text, path


def test_pack_bits_layout():
    # bit n is bit n % 8 of byte n // 8
    assert fmt.pack_bits([1, 0, 0, 0, 0, 0, 0, 0, 0, 1]) == "0102"
    assert fmt.unpack_bits("0102", 10).tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]


# ---------------------------------------------------------------- mutation fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=False) |
    st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_documents(draw):
    doc = base_doc()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add", "nudge"]))
        if action == "delete":
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        elif action == "nudge" and isinstance(parent[path[-1]], int):
            parent[path[-1]] += draw(st.sampled_from([-1, 1, -100, 1 << 40]))
        else:
            parent[path[-1]] = draw(json_values)
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_descriptions_are_valid_or_cleanly_rejected(doc):
    text = json.dumps(doc)
    try:
        desc = fmt.loads(text)
    except fmt.DescriptionError as e:
        assert "\n" not in str(e) and str(e)
        return
    # Accepted: it must then be a consistent network that round-trips.
    assert fmt.dumps(fmt.loads(fmt.dumps(desc))) == fmt.dumps(desc)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 255))
def test_corrupted_bytes_are_valid_or_cleanly_rejected(position, byte):
    data = bytearray(json.dumps(base_doc()).encode())
    position %= len(data)
    data[position] = byte
    for candidate in (bytes(data), bytes(data[:position])):
        try:
            fmt.loads(candidate)
        except fmt.DescriptionError as e:
            assert "\n" not in str(e)
