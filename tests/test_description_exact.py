"""The description format's reader and writer on a hand-written model: every rejection's whole
one-line message (docs/model-format.md: errors name the file, layer and field), the written
text, and the derived shapes, all spelled out here by hand."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

from docedit import edited
from models import description as fmt
from models.description import DescriptionError, Limits

# 2x2 input of 2-bit samples -> thermometer (>=1, >=2): 2x2x2 bits
# c1: 2x2 kernel, padding 1 (pad 0), 2 groups -> 3x3x2; p: 3x3 max-pool -> 1x1x2;
# out: 1x1 sparse scores (q 2, p -1).
BASE = {
    "format_version": 1, "name": "m",
    "input": {"height": 2, "width": 2, "channels": 1, "bits": 2},
    "encoder": {"kind": "thermometer", "thresholds": [[1, 2]], "learned": False},
    "layers": [
        {"kind": "conv", "name": "c1", "out_channels": 2, "kernel": [2, 2], "stride": [1, 1],
         "padding": [1, 1], "pad_bit": 0, "groups": 2, "domain": "bipolar",
         "weights": ["05", "0e"], "activation": {"thresholds": [1, 2], "flip": [0, 1]},
         "output_shape": [3, 3, 2]},
        {"kind": "maxpool", "name": "p", "kernel": [3, 3], "stride": [1, 1],
         "output_shape": [1, 1, 2]},
        {"kind": "conv", "name": "out", "out_channels": 2, "kernel": [1, 1], "stride": [1, 1],
         "padding": [0, 0], "pad_bit": 1, "groups": 1, "domain": "sparse", "q": 2, "p": -1,
         "weights": ["01", "03"], "scores": {"scale": [1, 2], "offset": [0, -3]},
         "output_shape": [1, 1, 2]},
    ],
    "metadata": {"dataset": "none"},
}


def edit(path, value=None, delete=False, doc=None):
    """BASE (or `doc`) with the field at `path` set to `value` or deleted."""
    return edited(BASE if doc is None else doc, path, value, delete)


def test_base_reads_as_written():
    desc = fmt.from_dict(copy.deepcopy(BASE))
    c1, pool, out = desc.layers
    assert desc.name == "m" and desc.metadata == {"dataset": "none"}
    assert desc.input.shape == (2, 2, 1) and desc.encoded_shape == (2, 2, 2)
    assert desc.encoder.thresholds.tolist() == [[1, 2]] and desc.encoder.learned is False
    assert c1.weights[:, :, :, 0].tolist() == [[[1, 0], [1, 0]], [[0, 1], [1, 1]]]
    assert (c1.kernel, c1.stride, c1.padding, c1.pad_bit, c1.groups) == (
        (2, 2), (1, 1), (1, 1), 0, 2)
    assert c1.mask is None and c1.kept.sum() == 8 and (c1.q, c1.p) == (1, 0)
    assert c1.activation.thresholds.tolist() == [1, 2] and c1.activation.flip.tolist() == [0, 1]
    assert c1.in_channels_per_group == 1 and c1.out_channels_per_group == 1
    assert (pool.kernel, pool.stride, pool.out_shape) == ((3, 3), (1, 1), (1, 1, 2))
    assert out.weights.reshape(2, 2).tolist() == [[1, 0], [1, 1]]
    assert (out.q, out.p, out.pad_bit) == (2, -1, 1)
    assert out.scores.scale.tolist() == [1, 2] and out.scores.offset.tolist() == [0, -3]
    assert desc.layer_inputs() == [(2, 2, 2), (3, 3, 2), (1, 1, 2)]
    assert desc.num_classes == 2
    assert desc.weight_bits() == (12, 12)
    masked = fmt.from_dict(edit(["layers", 0, "mask"], ["01", "0f"]))
    assert masked.weight_bits() == (9, 12)
    assert masked.layers[0].kept[:, :, :, 0].tolist() == [[[1, 0], [0, 0]], [[1, 1], [1, 1]]]
    assert fmt.from_dict(edit(["layers", 0, "mask"], None)).layers[0].mask is None
    bp = fmt.from_dict(edit(["encoder"], {"kind": "bitplanes"}))
    assert isinstance(bp.encoder, fmt.Bitplanes) and bp.encoded_shape == (2, 2, 2)
    assert fmt.from_dict(edit(["encoder", "learned"], True)).encoder.learned is True
    assert fmt.from_dict(edit(["encoder", "learned"], delete=True)).encoder.learned is False
    assert fmt.from_dict(edit(["metadata"], delete=True)).metadata == {}


def test_shapes_by_hand():
    assert fmt.conv_out_hw(5, 7, (3, 2), (2, 1), (1, 0)) == (3, 6)
    assert fmt.conv_out_hw(4, 4, (4, 4), (1, 1), (0, 0)) == (1, 1)
    th = fmt.Thermometer(thresholds=np.array([[1, 5]]))
    assert th.planes == 2 and th.channel_thresholds(3).tolist() == [[1, 5]] * 3
    assert fmt.encoded_shape(fmt.InputSpec(3, 4, 3, 8), th) == (3, 4, 6)
    assert fmt.encoded_shape(fmt.InputSpec(3, 4, 3, 8), fmt.Bitplanes()) == (3, 4, 24)


def test_bit_packing_by_hand():
    assert fmt.pack_bits(np.array([1, 0, 1, 0, 0, 0, 0, 0, 1])) == "0501"
    assert fmt.unpack_bits("0501", 9).tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 1]
    assert fmt.unpack_bits("ff", 8).tolist() == [1] * 8
    for text, count, message in [("05", 9, "expected 4 hex digits for 9 bits, got 2"),
                                 ("0g", 8, "not a hex string"),
                                 ("0502", 9, "bits set beyond the last weight")]:
        with pytest.raises(ValueError) as e:
            fmt.unpack_bits(text, count)
        assert str(e.value) == message


C1 = "layer #0 'c1'"
OUT = "layer #2 'out'"
IDENT = ("a layer name must be a Verilog identifier: a letter or _, then letters, digits or _, "
         "at most 64 characters, not a keyword")

BAD = [
    ([], "expected a JSON object at the top, got a list"),
    (edit(["format_version"], delete=True), "field 'format_version': missing field"),
    (edit(["format_version"], 2), "field 'format_version': version 2 is newer than this "
     "bnngen understands (1); upgrade bnngen"),
    (edit(["format_version"], 0), "field 'format_version': 0 is below the minimum 1"),
    (edit(["format_version"], "1"), "field 'format_version': expected an integer, got a string"),
    (edit(["format_version"], True), "field 'format_version': expected an integer, got a "
     "boolean"),
    (edit(["extra"], 1), "field 'extra': unknown field"),
    (edit(["name"], delete=True), "field 'name': missing field"),
    (edit(["name"], 5), "field 'name': expected a string, got an integer"),
    (edit(["name"], "a\tb"), "field 'name': the model name must be at most 256 printable "
     "characters (no control characters)"),
    (edit(["name"], "a" * 257), "field 'name': the model name must be at most 256 printable "
     "characters (no control characters)"),
    (edit(["metadata"], []), "field 'metadata': expected an object, got a list"),
    (edit(["input"], None), "layer input: field 'input': expected an object, got null"),
    (edit(["input", "depth"], 1), "layer input: field 'depth': unknown field"),
    (edit(["input", "bits"], delete=True), "layer input: field 'bits': missing field"),
    (edit(["input", "height"], 0), "layer input: field 'height': 0 is below the minimum 1"),
    (edit(["input", "width"], 4097), "layer input: field 'width': 4097 is above the maximum "
     "4096"),
    (edit(["input", "channels"], 1.5), "layer input: field 'channels': expected an integer, "
     "got a number"),
    (edit(["input", "bits"], 17), "layer input: field 'bits': 17 is above the maximum 16"),
    (edit(["input", "height"], 10 ** 40), "layer input: field 'height': an integer of about "
     "2^132 is above the maximum 4096"),
    (edit(["input", "height"], -10 ** 40), "layer input: field 'height': -an integer of about "
     "2^132 is below the minimum 1"),
    (edit(["encoder"], 3), "layer encoder: expected an object, got an integer"),
    (edit(["encoder", "kind"], delete=True), "layer encoder: field 'kind': missing field"),
    (edit(["encoder", "kind"], "gray"), "layer encoder: field 'kind': unknown encoder 'gray' "
     "(expected 'thermometer' or 'bitplanes')"),
    (edit(["encoder", "kind"], 4), "layer encoder: field 'kind': unknown encoder 4 "
     "(expected 'thermometer' or 'bitplanes')"),
    (edit(["encoder", "levels"], 4), "layer encoder: field 'levels': unknown field"),
    (edit(["encoder", "thresholds"], delete=True), "layer encoder: field 'thresholds': "
     "missing field"),
    (edit(["encoder", "thresholds"], [[1, 2], [1, 2]]), "layer encoder: field 'thresholds': "
     "expected 1 (shared) or 1 rows, got 2"),
    (edit(["encoder", "thresholds"], [[2, 1]]), "layer encoder: field 'thresholds': row 0 is "
     "not strictly increasing"),
    (edit(["encoder", "thresholds"], [[2, 2]]), "layer encoder: field 'thresholds': row 0 is "
     "not strictly increasing"),
    (edit(["encoder", "thresholds"], [[1, 4]]), "layer encoder: field 'thresholds': 4 is "
     "above the maximum 3"),
    (edit(["encoder", "thresholds"], [[0, 1]]), "layer encoder: field 'thresholds': 0 is "
     "below the minimum 1"),
    (edit(["encoder", "thresholds"], [[]]), "layer encoder: field 'thresholds': row 0 has 0 "
     "thresholds (expected 1..1024)"),
    (edit(["encoder", "thresholds"], 3), "layer encoder: field 'thresholds': expected a list, "
     "got an integer"),
    (edit(["encoder", "learned"], "yes"), "layer encoder: field 'learned': expected true or "
     "false, got a string"),
    (edit(["layers"], []), "field 'layers': a network needs at least one layer (the scores "
     "layer)"),
    (edit(["layers"], 5), "field 'layers': expected a list, got an integer"),
    (edit(["layers", 0], 7), "layer #0: expected an object, got an integer"),
    (edit(["layers", 0, "kind"], delete=True), f"{C1}: field 'kind': missing field"),
    (edit(["layers", 0, "kind"], "dense"), f"{C1}: field 'kind': unknown layer kind 'dense' "
     "(expected 'conv' or 'maxpool')"),
    (edit(["layers", 0, "name"], 3), "layer #0: field 'name': expected a string, got an "
     "integer"),
    (edit(["layers", 0, "name"], "module"), f"layer #0 'module': field 'name': {IDENT}"),
    (edit(["layers", 0, "name"], "1st"), f"layer #0 '1st': field 'name': {IDENT}"),
    (edit(["layers", 0, "name"], "a" * 65), f"layer #0 '{'a' * 64}': field 'name': {IDENT}"),
    (edit(["layers", 2, "name"], "c1"), "layer #2 'c1': field 'name': duplicate layer name "
     "'c1'"),
    (edit(["layers", 0, "bias"], 1), f"{C1}: field 'bias': unknown field"),
    (edit(["layers", 0, "stride"], delete=True), f"{C1}: field 'stride': missing field"),
    (edit(["layers", 0, "out_channels"], 0), f"{C1}: field 'out_channels': 0 is below the "
     "minimum 1"),
    (edit(["layers", 0, "kernel"], [2]), f"{C1}: field 'kernel': expected 2 entries, got 1"),
    (edit(["layers", 0, "kernel"], [0, 2]), f"{C1}: field 'kernel': 0 is below the minimum 1"),
    (edit(["layers", 0, "stride"], [1, 0]), f"{C1}: field 'stride': 0 is below the minimum 1"),
    (edit(["layers", 0, "padding"], [-1, 0]), f"{C1}: field 'padding': -1 is below the "
     "minimum 0"),
    (edit(["layers", 0, "pad_bit"], 2), f"{C1}: field 'pad_bit': 2 is above the maximum 1"),
    (edit(["layers", 0, "groups"], 0), f"{C1}: field 'groups': 0 is below the minimum 1"),
    (edit(["layers", 0, "groups"], 3), f"{C1}: field 'groups': 3 does not divide the 2 input "
     "channels"),
    (edit(["layers", 0, "out_channels"], 3), f"{C1}: field 'groups': 2 does not divide the 3 "
     "output channels"),
    (edit(["layers", 0, "kernel"], [5, 4]), f"{C1}: field 'kernel': 5x4 is larger than the "
     "padded input 4x4"),
    (edit(["layers", 0, "kernel"], [4, 5]), f"{C1}: field 'kernel': 4x5 is larger than the "
     "padded input 4x4"),
    (edit(["layers", 0, "padding"], [2, 1]), f"{C1}: field 'padding': padding must be smaller "
     "than the kernel"),
    (edit(["layers", 0, "padding"], [1, 2]), f"{C1}: field 'padding': padding must be smaller "
     "than the kernel"),
    (edit(["layers", 0, "domain"], "ternary"), f"{C1}: field 'domain': unknown domain "
     "'ternary' (expected 'bipolar' or 'sparse')"),
    (edit(["layers", 0, "weights"], ["05"]), f"{C1}: field 'weights': expected 2 entries, got "
     "1"),
    (edit(["layers", 0, "weights"], ["zz", "0e"]), f"{C1}: field 'weights': output channel 0: "
     "not a hex string"),
    (edit(["layers", 0, "weights"], ["05", "0e0e"]), f"{C1}: field 'weights': output channel "
     "1: expected 2 hex digits for 4 bits, got 4"),
    (edit(["layers", 0, "weights"], ["1f", "0e"]), f"{C1}: field 'weights': output channel 0: "
     "bits set beyond the last weight"),
    (edit(["layers", 0, "weights"], [5, "0e"]), f"{C1}: field 'weights': expected a string, "
     "got an integer"),
    (edit(["layers", 0, "mask"], ["05"]), f"{C1}: field 'mask': expected 2 entries, got 1"),
    (edit(["layers", 2, "mask"], ["01", "03"]), f"{OUT}: field 'mask': a mask is only allowed "
     "in the bipolar domain"),
    (edit(["layers", 2, "q"], delete=True), f"{OUT}: field 'q': missing field (sparse "
     "domain)"),
    (edit(["layers", 2, "p"], delete=True), f"{OUT}: field 'p': missing field (sparse "
     "domain)"),
    (edit(["layers", 2, "q"], 0), f"{OUT}: field 'q': 0 is below the minimum 1"),
    (edit(["layers", 2, "q"], (1 << 20) + 1), f"{OUT}: field 'q': 1048577 is above the maximum "
     "1048576"),
    (edit(["layers", 2, "p"], -(1 << 20) - 1), f"{OUT}: field 'p': -1048577 is below the "
     "minimum -1048576"),
    (edit(["layers", 0, "q"], 1), f"{C1}: field 'q': only allowed in the sparse domain"),
    (edit(["layers", 0, "p"], 0), f"{C1}: field 'p': only allowed in the sparse domain"),
    (edit(["layers", 0, "scores"], {"scale": [1, 1], "offset": [0, 0]}), f"{C1}: field "
     "'activation': exactly one of 'activation' and 'scores' is required"),
    (edit(["layers", 0, "activation"], delete=True), f"{C1}: field 'activation': exactly one "
     "of 'activation' and 'scores' is required"),
    (edit(["layers", 0, "activation"], []), f"{C1}: field 'activation': expected an object, "
     "got a list"),
    (edit(["layers", 0, "activation", "flip"], delete=True), f"{C1}: field 'flip': missing "
     "field"),
    (edit(["layers", 0, "activation", "thresholds"], [1]), f"{C1}: field "
     "'activation.thresholds': expected 2 entries, got 1"),
    (edit(["layers", 0, "activation", "thresholds"], [1, (1 << 40) + 1]), f"{C1}: field "
     "'activation.thresholds': 1099511627777 is above the maximum 1099511627776"),
    (edit(["layers", 0, "activation", "thresholds"], [-(1 << 40) - 1, 1]), f"{C1}: field "
     "'activation.thresholds': -1099511627777 is below the minimum -1099511627776"),
    (edit(["layers", 0, "activation", "flip"], [0, 2]), f"{C1}: field 'activation.flip': 2 is "
     "above the maximum 1"),
    (edit(["layers", 0, "activation", "flip"], [-1, 0]), f"{C1}: field 'activation.flip': -1 "
     "is below the minimum 0"),
    (edit(["layers", 2, "scores"], {"scale": [1, 1]}), f"{OUT}: field 'offset': missing "
     "field"),
    (edit(["layers", 2, "scores", "scale"], [0, 1]), f"{OUT}: field 'scores.scale': 0 is "
     "below the minimum 1"),
    (edit(["layers", 2, "scores", "scale"], [1, (1 << 20) + 1]), f"{OUT}: field "
     "'scores.scale': 1048577 is above the maximum 1048576"),
    (edit(["layers", 2, "scores", "offset"], [1 << 41, 0]), f"{OUT}: field 'scores.offset': "
     "2199023255552 is above the maximum 1099511627776"),
    (edit(["layers", 0, "output_shape"], [2, 2, 2]), f"{C1}: field 'output_shape': is "
     "[2, 2, 2] but the layer computes [3, 3, 2] from its input"),
    (edit(["layers", 0, "output_shape"], [3, 3]), f"{C1}: field 'output_shape': expected 3 "
     "entries, got 2"),
    (edit(["layers", 0, "activation"], delete=True,
          doc=edit(["layers", 0, "scores"], {"scale": [1, 1], "offset": [0, 0]})),
     f"{C1}: field 'scores': only the last layer may produce scores"),
    (edit(["layers", 2, "scores"], delete=True,
          doc=edit(["layers", 2, "activation"], {"thresholds": [0, 0], "flip": [0, 0]})),
     f"{OUT}: field 'scores': the last layer must be a conv producing scores"),
    (edit(["layers"], [BASE["layers"][0]]), f"{C1}: field 'scores': the last layer must be a "
     "conv producing scores"),
    (edit(["layers", 1, "kernel"], [4, 3]), "layer #1 'p': field 'kernel': 4x3 is larger than "
     "the input 3x3"),
    (edit(["layers", 1, "kernel"], [3, 4]), "layer #1 'p': field 'kernel': 3x4 is larger than "
     "the input 3x3"),
    (edit(["layers", 1, "padding"], [0, 0]), "layer #1 'p': field 'padding': unknown field"),
    (edit(["layers", 1, "output_shape"], [1, 1, 3]), "layer #1 'p': field 'output_shape': is "
     "[1, 1, 3] but the layer computes [1, 1, 2] from its input"),
    (edit(["layers", 1, "name"], "and"), f"layer #1 'and': field 'name': {IDENT}"),
    (edit(["layers"], [BASE["layers"][0], edit(["output_shape"], [3, 3, 2],
                                               doc=BASE["layers"][2])]),
     "layer #1 'out': field 'output_shape': the scores layer must output 1x1, got 3x3"),
]


@pytest.mark.parametrize("doc,message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_rejection_messages(doc, message):
    with pytest.raises(DescriptionError) as e:
        fmt.from_dict(doc)
    assert str(e.value) == message


@pytest.mark.parametrize("limits,message", [
    (Limits(max_layers=2), "field 'layers': 3 layers exceed the limit 2"),
    (Limits(max_weight_bits=8), f"{OUT}: field 'weights': 12 weight bits in total exceed the "
     "limit 8"),
    (Limits(max_weight_bits=7), f"{C1}: field 'weights': 8 weight bits in total exceed the "
     "limit 7"),
    (Limits(max_channels=1), "layer encoder: 2 encoded channels exceed the limit 1"),
    (Limits(max_thresholds=1), "layer encoder: field 'thresholds': row 0 has 2 thresholds "
     "(expected 1..1)"),
    (Limits(max_side=1), "layer input: field 'height': 2 is above the maximum 1"),
    (Limits(max_kernel=1), f"{C1}: field 'kernel': 2 is above the maximum 1"),
    (Limits(max_side=2), f"{C1}: field 'padding': the output map 3x3 exceeds the limit 2 per "
     "side"),
])
def test_limits(limits, message):
    with pytest.raises(DescriptionError) as e:
        fmt.from_dict(copy.deepcopy(BASE), limits)
    assert str(e.value) == message
    fmt.from_dict(copy.deepcopy(BASE), Limits(max_layers=3, max_weight_bits=12,
                                              max_channels=2, max_thresholds=2, max_side=3,
                                              max_kernel=3))


def test_two_channel_thresholds():
    doc = edit(["input", "channels"], 2)
    doc = edit(["encoder", "thresholds"], [[1, 2], [1, 3, 3]], doc=doc)
    with pytest.raises(DescriptionError) as e:
        fmt.from_dict(doc)
    assert str(e.value) == ("layer encoder: field 'thresholds': row 1 has 3 thresholds, row 0 "
                            "has 2")


def test_loads_rejections(tmp_path):
    cases = [(b"\xff\xfe", "not UTF-8 text"), ("  \n", "empty file"),
             ("{", "not valid JSON (Expecting property name enclosed in double quotes at line "
              "1 column 2)"),
             ("NaN", "not a description (NaN is not a number JSON allows)"),
             ("[" * 100000, "not valid JSON (nested too deeply)")]
    for text, message in cases:
        with pytest.raises(DescriptionError) as e:
            fmt.loads(text)
        assert str(e.value) == message
    missing = tmp_path / "none.json"
    with pytest.raises(DescriptionError) as e:
        fmt.load(missing)
    assert str(e.value) == f"{missing}: cannot read (No such file or directory)"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(edit(["layers", 0, "pad_bit"], 2)))
    with pytest.raises(DescriptionError) as e:
        fmt.load(bad)
    assert str(e.value) == f"{bad}: {C1}: field 'pad_bit': 2 is above the maximum 1"
    assert (e.value.layer, e.value.field, e.value.source) == ("#0 'c1'", "pad_bit", str(bad))
    assert fmt.loads(json.dumps(BASE).encode()).name == "m"


def test_written_text_by_hand(tmp_path):
    desc = fmt.from_dict(copy.deepcopy(BASE))
    d = fmt.to_dict(desc)
    assert d == BASE
    masked = fmt.to_dict(fmt.from_dict(edit(["layers", 0, "mask"], ["01", "0f"])))
    assert masked["layers"][0]["mask"] == ["01", "0f"]
    assert fmt.to_dict(fmt.from_dict(edit(["encoder"], {"kind": "bitplanes"})))["encoder"] == {
        "kind": "bitplanes"}
    text = fmt.dumps(desc)
    assert text.startswith('{\n  "format_version": 1,\n  "name": "m",\n  "input": {\n'
                           '    "height": 2,\n    "width": 2,\n')
    assert '\n  "encoder": {\n    "kind": "thermometer",\n    "thresholds": [[1, 2]],\n' \
           '    "learned": false\n  },\n' in text
    assert '      "weights": [\n        "05",\n        "0e"\n      ]\n' in text
    assert '"metadata": {\n    "dataset": "none"\n  }\n}\n' in text
    assert fmt._format({}, 3) == "{}"
    assert fmt._format([[1, 2], [3]], 0) == "[[1, 2], [3]]"
    assert fmt._format([list(range(40)), list(range(30))], 0).startswith("[\n  [0, 1,")
    assert fmt._format([{"a": 1}], 1) == '[\n    {\n      "a": 1\n    }\n  ]'
    assert fmt._format("x", 0) == '"x"' and fmt._format(None, 0) == "null"
    path = tmp_path / "m.json"
    fmt.save(desc, path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == text and path.stat().st_mode & 0o777 == 0o666 & ~umask
    again = fmt.load(path)
    assert fmt.dumps(again) == text
    # what the model means, not its name or metadata
    renamed = fmt.from_dict(edit(["metadata"], {}, doc=edit(["name"], "other")))
    assert fmt.content_hash(renamed) == fmt.content_hash(desc)
    other = fmt.from_dict(edit(["layers", 0, "pad_bit"], 1))
    assert fmt.content_hash(other) != fmt.content_hash(desc)
    assert len(fmt.content_hash(desc)) == 64
