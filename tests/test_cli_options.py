"""Every option of `bnngen` and its subcommands, by its effect (issue 23, item 3).

`COVERAGE` names, for every option `bnngen --help` and each subcommand's --help list, the
test that checks what it does; `test_every_option_has_a_test` keeps the map complete and
its tests real. The options not tested elsewhere are tested here, on small factory models.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from models import description as fmt
from models.factory import random_description
from gen.cli.entry import build_parser, main
from gen.estimate.flow_model import analyse
from gen.plan.search import plan_network


ROOT = Path(__file__).resolve().parents[1]

FMAX = "tests/test_fmax.py::test_routed_fmax_at_the_planned_clock_names_the_critical_path"
PNR_LIMIT = "tests/test_fmax.py::test_a_run_stopped_at_its_time_limit_says_so_in_one_line"
REPORT_PLAN = ("tests/test_report_synth.py::"
               "test_description_reports_as_its_folding_plan_builds_it")

# (command, option) -> "file::test" that checks the option's effect.
COVERAGE = {
    ("validate", "file"): "tests/test_cli.py::test_validate_shipped_model",
    ("validate", "--max-weight-bits"): "tests/test_cli_options.py::test_max_weight_bits",
    ("info", "file"): "tests/test_cli.py::test_info_counts_weights_pruning_and_ops",
    ("info", "--max-weight-bits"): "tests/test_cli_options.py::test_max_weight_bits",
    ("run", "file"): "tests/test_cli.py::test_run_reports_golden_accuracy",
    ("run", "--max-weight-bits"): "tests/test_cli_options.py::test_max_weight_bits",
    ("run", "--dataset"): "tests/test_cli.py::test_run_reports_golden_accuracy",
    ("run", "--split"): "tests/test_cli.py::test_run_reports_golden_accuracy",
    ("run", "--limit"): "tests/test_cli.py::test_run_reports_golden_accuracy",
    ("demo", "file"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("demo", "--output"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("demo", "--force"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("demo", "--images"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("demo", "--fps"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("demo", "--clock"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("demo", "--device"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("demo", "--jobs"): "sim/test_demo.py::test_demo_on_a_small_model",
    ("build", "--testbench"): ("sim/test_testbench.py::"
                               "test_expected_words_follow_the_documented_layout"),
    ("verify", "file"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--plan"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--build"): "sim/test_testbench.py::test_verify_catches_broken_rtl",
    ("verify", "--images"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--dataset"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--simulator"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--jobs"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--gap"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--stall"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("verify", "--seed"): "sim/test_testbench.py::test_verify_random_inputs_planned",
    ("build", "file"): "tests/test_build_emit.py::test_cli_build_prints_summary",
    ("build", "--output"): "tests/test_build_emit.py::test_cli_build_prints_summary",
    ("build", "--top"): "tests/test_cli_options.py::test_build_top_and_force",
    ("build", "--popcount-stages"): "sim/test_demo.py::test_built_popcount_stages",
    ("build", "--plan"): "tests/test_plan.py::test_build_with_plan",
    ("build", "--clock"): "tests/test_build_emit.py::test_build_clock_option",
    ("build", "--control"): "tests/test_build_emit.py::test_build_control_port",
    ("build", "--force"): "tests/test_cli_options.py::test_build_top_and_force",
    ("train", "config"): "tests/test_train.py::test_pruned_sparse_distilled_via_cli",
    ("train", "--out"): "tests/test_train.py::test_train_cli_options_and_resume",
    ("train", "--zoo"): "tests/test_train.py::test_pruned_sparse_distilled_via_cli",
    ("train", "--epochs"): "tests/test_train.py::test_train_cli_options_and_resume",
    ("train", "--subset"): "tests/test_train.py::test_train_cli_options_and_resume",
    ("train", "--seed"): "tests/test_train.py::test_train_cli_options_and_resume",
    ("train", "--resume"): "tests/test_train.py::test_train_cli_options_and_resume",
    ("train", "--set"): "tests/test_train.py::test_train_cli_options_and_resume",
    ("train", "--quiet"): "tests/test_train.py::test_train_cli_options_and_resume",
    ("train", "--force"): "tests/test_cli_options.py::test_train_force_replaces_a_zoo_file",
    ("report", "source"): "tests/test_report_synth.py::test_build_folder_with_manifest_reports",
    ("report", "--family"): "tests/test_cli_options.py::test_report_cache_jobs_and_force",
    ("report", "--fmax"): FMAX,
    ("report", "--device"): FMAX,
    ("report", "--clock"): FMAX,
    ("report", "--pnr-timeout"): PNR_LIMIT,
    ("report", "--out"): "tests/test_cli_options.py::test_report_cache_jobs_and_force",
    ("report", "--plan"): REPORT_PLAN,
    ("report", "--no-cache"): "tests/test_cli_options.py::test_report_cache_jobs_and_force",
    ("report", "--jobs"): "tests/test_cli_options.py::test_report_cache_jobs_and_force",
    ("report", "--force"): "tests/test_cli_options.py::test_report_cache_jobs_and_force",
    ("estimate", "file"): "tests/test_estimate.py::test_estimate_cli_prints_every_layer",
    ("estimate", "--family"): "tests/test_cli_options.py::test_estimate_family",
    ("estimate", "--plan"): "tests/test_plan.py::test_plan_numbers_are_the_estimate",
    ("estimate", "--json"): "tests/test_estimate.py::test_estimate_cli_prints_every_layer",
    ("plan", "file"): "tests/test_plan.py::test_plan_cli",
    ("plan", "--cycles"): "tests/test_plan.py::test_plan_cli",
    ("plan", "--fps"): "tests/test_cli_options.py::test_plan_fps_clock_family_memory_fold",
    ("plan", "--clock"): "tests/test_cli_options.py::test_plan_fps_clock_family_memory_fold",
    ("plan", "--device"): "tests/test_plan.py::test_plan_cli",
    ("plan", "--family"): "tests/test_cli_options.py::test_plan_fps_clock_family_memory_fold",
    ("plan", "--memory"): "tests/test_cli_options.py::test_plan_fps_clock_family_memory_fold",
    ("plan", "--fold-all"): "tests/test_cli_options.py::test_plan_fps_clock_family_memory_fold",
    ("plan", "--output"): "tests/test_cli_options.py::test_plan_fps_clock_family_memory_fold",
    ("plan", "--force"): "tests/test_cli_options.py::test_plan_force_replaces_a_foreign_file",
    ("plan", "--objective"): "tests/test_plan.py::test_objective_logic_spends_brams_to_save_logic",
    ("explore", "file"): "tests/test_cli_options.py::test_explore_front_of_real_plans",
    ("explore", "--clock"): "tests/test_cli_options.py::test_explore_options",
    ("explore", "--device"): "tests/test_cli_options.py::test_explore_options",
    ("explore", "--family"): "tests/test_cli_options.py::test_explore_options",
    ("explore", "--memory"): "tests/test_cli_options.py::test_explore_options",
    ("explore", "--fold-all"): "tests/test_cli_options.py::test_explore_options",
    ("explore", "--points"): "tests/test_cli_options.py::test_explore_front_of_real_plans",
    ("explore", "--output"): "tests/test_cli_options.py::test_explore_front_of_real_plans",
    ("explore", "--force"): "tests/test_hostile.py::test_outputs_replace_only_their_own_folders",
}


def _options() -> set[tuple[str, str]]:
    """(command, option) for every subcommand's positional and long option (not --help)."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    found = set()
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if action.dest == "help":
                continue
            longs = [s for s in action.option_strings if s.startswith("--")]
            found.add((name, longs[0] if longs else action.dest))
    return found


def test_every_option_has_a_test():
    """The map covers exactly the options the parser has, and every test it names exists
    (a test that is renamed or removed takes its options' coverage with it)."""
    assert set(COVERAGE) == _options()
    for where in set(COVERAGE.values()):
        path, name = where.split("::")
        tree = ast.parse((ROOT / path).read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in names, where


# ------------------------------------------------------------------------ models

@pytest.fixture
def model(tmp_path, monkeypatch):
    """A small factory description in the working folder, as m.json: its plans trade
    throughput for LUTs (three on explore's front with 6 points)."""
    monkeypatch.chdir(tmp_path)
    desc = random_description(6, height=6, width=6)
    fmt.save(desc, tmp_path / "m.json")
    return desc


def test_max_weight_bits(tmp_path, capsys):
    """validate, info and run refuse a description with more weight bits than the limit,
    and take one at the limit."""
    desc = random_description(1, height=28, width=28, channels=1, bits=8, convs=1,
                              max_channels=4, pool=True)
    path = tmp_path / "m.json"
    fmt.save(desc, path)
    total = sum(layer.weights.size for layer in desc.layers if isinstance(layer, fmt.Conv))
    for cmd in (["validate"], ["info"], ["run", "--limit", "2"]):
        assert main([cmd[0], str(path), *cmd[1:], "--max-weight-bits", str(total - 1)]) == 2
        err = capsys.readouterr().err
        assert f"{total} weight bits in total exceed the limit {total - 1}" in err, err
        assert main([cmd[0], str(path), *cmd[1:], "--max-weight-bits", str(total)]) == 0
        capsys.readouterr()


def test_build_top_and_force(model, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["build", "m.json", "-o", "mine", "--top", "edge_bnn"]) == 2
    assert (mine / "notes.txt").exists()
    assert main(["build", "m.json", "-o", "mine", "--top", "edge_bnn", "--force"]) == 0
    capsys.readouterr()
    assert not (mine / "notes.txt").exists()
    man = json.loads((mine / "manifest.json").read_text())
    assert man["top"] == "edge_bnn"
    text = (mine / "edge_bnn.v").read_text()
    assert re.search(r"^module edge_bnn\(", text, re.M)
    assert "edge_bnn" in (mine / man["integration"]["fusesoc_core"]).read_text()


def test_train_force_replaces_a_zoo_file(tmp_path, capsys):
    """--zoo refuses a file that is not a description (before training), and --force
    replaces it with the trained description."""
    pytest.importorskip("torch")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    config = tmp_path / "c.json"
    config.write_text(json.dumps({
        "name": "z", "model": {"encoder": {"kind": "uniform", "planes": 2},
                               "layers": [{"conv": 4}, {"pool": 4}, {"conv": 4},
                                          {"pool": 2}]},
        "train": {"epochs": 1, "subset": 32, "test_subset": 20, "batch": 32, "threads": 1}}))
    argv = ["train", str(config), "--quiet", "--out", str(tmp_path / "r"), "--zoo", str(notes)]
    assert main(argv) == 2
    assert "notes.txt" in capsys.readouterr().err and notes.read_text() == "mine"
    assert not (tmp_path / "r").exists()
    assert main([*argv, "--force"]) == 0
    capsys.readouterr()
    assert notes.read_text() == (tmp_path / "r" / "model.json").read_text()


def test_estimate_family(model, capsys):
    assert main(["estimate", "m.json", "--family", "ice40,gowin", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["estimate"]) == ["gowin", "ice40"]
    assert main(["estimate", "m.json", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)["estimate"]
    assert sorted(every) == ["ecp5", "gowin", "ice40", "xilinx"]
    assert out["estimate"]["ice40"] == every["ice40"]
    assert main(["estimate", "m.json", "--family", "xilinx"]) == 0
    table = capsys.readouterr().out
    assert "xilinx" in table and "ice40" not in table


def test_plan_fps_clock_family_memory_fold(model, capsys):
    # --fps with --clock: the target is clock / fps cycles per frame.
    assert main(["plan", "m.json", "--fps", "2500", "--clock", "10", "--family", "ice40",
                 "--memory", "block", "--fold-all", "-o", "p.json"]) == 0
    capsys.readouterr()
    plan = json.loads(Path("p.json").read_text())
    assert plan["target_cycles"] == 10_000_000 // 2500 and plan["clock_mhz"] == 10
    assert plan["family"] == "ice40" and plan["fps"] >= 2500
    convs = [lp for lp in plan["layers"] if lp["kind"] == "conv"]
    assert all(lp["engine"] == "folded" and lp["memory"] == "block" and lp["bram"] > 0
               for lp in convs)
    assert main(["plan", "m.json", "--cycles", "4000", "--family", "ice40",
                 "--memory", "distributed", "--fold-all", "-o", "d.json"]) == 0
    capsys.readouterr()
    dist = json.loads(Path("d.json").read_text())
    assert all(lp["memory"] == "distributed" and lp["bram"] == 0
               for lp in dist["layers"] if lp["kind"] == "conv")
    # At the unrolled rate the planner keeps unrolled what is cheaper so (on this model,
    # the first convolution); --fold-all folds it.
    other = random_description(5, height=6, width=6)
    fmt.save(other, "p5.json")
    floor = analyse(other, {}).ii
    assert main(["plan", "p5.json", "--cycles", str(floor), "-o", "u.json"]) == 0
    assert main(["plan", "p5.json", "--cycles", str(floor), "--fold-all", "-o", "f.json"]) == 0
    capsys.readouterr()
    engines = {name: {lp["engine"] for lp in json.loads(Path(name).read_text())["layers"]
                      if lp["kind"] == "conv"} for name in ("u.json", "f.json")}
    assert "unrolled" in engines["u.json"] and engines["f.json"] == {"folded"}
    assert json.loads(Path("u.json").read_text())["family"] == "ecp5"     # the default


def test_plan_force_replaces_a_foreign_file(model, capsys):
    Path("notes.json").write_text('{"mine": 1}')
    assert main(["plan", "m.json", "--cycles", "1000", "-o", "notes.json"]) == 2
    assert json.loads(Path("notes.json").read_text()) == {"mine": 1}
    assert main(["plan", "m.json", "--cycles", "1000", "-o", "notes.json", "--force"]) == 0
    capsys.readouterr()
    assert json.loads(Path("notes.json").read_text())["format"] == "bnngen-plan"


def _dominated(a: dict, b: dict) -> bool:
    """b is at least as good as a in interval, LUTs and BRAMs, and better in one."""
    keys = ("ii", "lut", "bram")
    return all(b[k] <= a[k] for k in keys) and any(b[k] < a[k] for k in keys)


def test_explore_front_of_real_plans(model, capsys):
    """explore.json: each row is the plan `plan_network` makes for its target, and the
    front is exactly the rows no other row dominates (no two equal rows both kept)."""
    assert main(["explore", "m.json", "--points", "6", "-o", "ex"]) == 0
    capsys.readouterr()
    rows = json.loads(Path("ex/explore.json").read_text())["plans"]
    assert len(rows) == 6 and len({r["target"] for r in rows}) == 6
    for r in rows:
        plan = plan_network(model, r["target"])
        assert (r["ii"], r["latency"]) == (plan.ii, plan.latency)
        assert {k: r[k] for k in ("lut", "ff", "bram", "lutram")} == plan.total
    for n, r in enumerate(rows):
        beaten = any(_dominated(r, o) for o in rows)
        repeated = any(all(o[k] == r[k] for k in ("ii", "lut", "bram")) for o in rows[:n])
        assert r["pareto"] == (not beaten and not repeated), r
    assert sum(r["pareto"] for r in rows) == 3          # a real trade-off on this model
    table = Path("ex/explore.md").read_text()
    assert sum(f"| {r['ii']:,} |" in table or f"| {r['ii']} |" in table
               for r in rows if r["pareto"]) == sum(r["pareto"] for r in rows)


def test_explore_options(model, capsys):
    """--family, --memory, --fold-all, --clock and --device reach every plan explored."""
    common = ["explore", "m.json", "--points", "3", "--fold-all", "--memory", "distributed"]
    assert main([*common, "--family", "gowin", "--clock", "20", "-o", "a"]) == 0
    capsys.readouterr()
    data = json.loads(Path("a/explore.json").read_text())
    assert data["family"] == "gowin"
    for r in data["plans"]:
        plan = plan_network(model, r["target"], family="gowin", memory="distributed",
                            clock_mhz=20, fold=True)
        assert {k: r[k] for k in ("lut", "ff", "bram", "lutram")} == plan.total
        assert r["bram"] == 0 and "unrolled" not in r["folding"].values()
        assert r["fps"] == pytest.approx(20e6 / r["ii"], rel=1e-3)
    assert main(["explore", "m.json", "--points", "2", "--device", "up5k", "-o", "b"]) == 0
    capsys.readouterr()
    data = json.loads(Path("b/explore.json").read_text())
    assert data["family"] == "from up5k"
    for r in data["plans"]:
        plan = plan_network(model, r["target"], device="up5k")
        assert {k: r[k] for k in ("lut", "bram")} == {k: plan.total[k] for k in ("lut", "bram")}
        assert r["fits"] == plan.fits


def test_report_cache_jobs_and_force(model, tmp_path, capsys, monkeypatch):
    """--no-cache reruns yosys where the cache would answer; -j runs that many families at
    once; --force synthesizes a description the size check refuses, and replaces a folder
    of the user's; --family picks the families, -o the folder."""
    import concurrent.futures

    from gen.cli import report_cmd
    monkeypatch.setenv("BNNGEN_SYNTH_CACHE", str(tmp_path / "cache"))
    workers = []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, max_workers=None, **kw):
            workers.append(max_workers)
            super().__init__(max_workers=max_workers, **kw)

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", Recording)
    fmt.save(random_description(2, height=3, width=3, convs=1, max_channels=2, classes=2,
                                bits=2), "m.json")
    args = ["report", "m.json", "--family", "ice40,gowin"]
    assert main([*args, "-j", "2", "-o", "r1"]) == 0
    assert workers == [2]
    first = json.loads(Path("r1/report.json").read_text())
    assert sorted(first["families"]) == ["gowin", "ice40"]
    assert not any(first["results"][f]["cached"] for f in ("ice40", "gowin"))
    assert main([*args, "-j", "1", "-o", "r2"]) == 0
    cached = json.loads(Path("r2/report.json").read_text())
    assert all(cached["results"][f]["cached"] for f in ("ice40", "gowin"))
    assert main(["report", "m.json", "--family", "ice40", "--no-cache", "-o", "r3"]) == 0
    fresh = json.loads(Path("r3/report.json").read_text())["results"]["ice40"]
    assert not fresh["cached"] and fresh["total"] == first["results"]["ice40"]["total"]
    # The size check, with its limit below this model: refused, then forced.
    monkeypatch.setattr(report_cmd, "UNROLLED_LIMIT_LUTS", 10)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["report", "m.json", "--family", "ice40", "-o", "mine"]) == 2
    assert "--force" in capsys.readouterr().err and (mine / "notes.txt").exists()
    assert main(["report", "m.json", "--family", "ice40", "-o", "mine", "--force"]) == 0
    capsys.readouterr()
    assert not (mine / "notes.txt").exists()
    assert json.loads((mine / "report.json").read_text())["results"]["ice40"]["total"] == \
        first["results"]["ice40"]["total"]


def test_no_subcommand_is_untested_in_help(capsys):
    """`bnngen --help` lists exactly the subcommands the map covers."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    listed = set(re.findall(r"^    (\w+)\s", text, re.M))
    assert listed == {cmd for cmd, _ in COVERAGE}
