"""The folding schedule, the planner, the chain timing model and `bnngen plan`.

The schedule is checked by executing its memory image in Python against the golden
model's sums; the timing model against the window generator's own cycle model
(hw.window.timing) on unrolled networks; the planner against its own contract (every layer
within the target, the prediction equal to the model's)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from models import golden
from models.description import Conv, load, save
from models.errors import UserError
from models.factory import random_conv, random_description
from hw.folded.schedule import channel_bits, field_order, fold_schedule
from hw.folded.word import WeightWord
from gen.cli.entry import main
from gen.common.devices import find_device
from gen.estimate.flow_model import analyse
from gen.plan.plan_file import check_plan, flow_steps, load_plan, plan_from_dict, plan_table
from gen.plan.search import plan_network, target_cycles


def execute(conv: Conv, pe: int, simd: int, windows: np.ndarray) -> np.ndarray:
    """(N, F_window) window bits -> (N, O) sums by running the schedule's memory image."""
    sched = fold_schedule(conv, pe, simd)
    word = WeightWord(sched)
    image = word.encode(conv)
    order = field_order(conv)
    cg = conv.in_channels_per_group
    out = np.zeros((len(windows), conv.out_channels), dtype=np.int64)

    def field(w, key):
        start, width = word.fields[key]
        return [(w >> (start + b)) & 1 for b in range(width)]

    def value(w, key):
        start, width = word.fields[key]
        return (w >> start) & ((1 << width) - 1)

    for n, win in enumerate(windows):
        acc = [0] * pe
        ordinal = [0] * pe
        for w in image:
            for lane in range(pe):
                chunk = value(w, ("chunk", word.lane_mux[lane]))
                if chunk == sched.zero_chunk:
                    a = [0] * simd
                else:
                    j, c = divmod(chunk, sched.chunks_per_group)
                    a = [int(win[order[c * simd + b] + j * cg]) if c * simd + b < sched.fan_in
                         else 0 for b in range(simd)]
                wt = field(w, ("w", lane))
                mk = field(w, ("m", lane)) if sched.needs_mask else [1] * simd
                if conv.domain == "bipolar":
                    contrib = sum(int(x == y) & m for x, y, m in zip(a, wt, mk))
                else:
                    contrib = conv.q * sum(x & y for x, y in zip(a, wt)) + conv.p * sum(a)
                acc[lane] = (0 if value(w, ("first", lane)) else acc[lane]) + contrib
                if value(w, ("last", lane)):
                    out[n, sched.lanes[lane][ordinal[lane]]] = acc[lane]
                    ordinal[lane] += 1
    return out


def windows(x: np.ndarray, conv: Conv) -> np.ndarray:
    """(N, H, W, C) bits -> (N, Ho, Wo, kh*kw*C) windows, bit (ky*kw + kx)*C + c."""
    (ph, pw), (kh, kw), (sy, sx) = conv.padding, conv.kernel, conv.stride
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=conv.pad_bit)
    ho, wo = conv.out_shape[:2]
    out = np.zeros((len(x), ho, wo, kh * kw * x.shape[3]), dtype=np.uint8)
    for oy in range(ho):
        for ox in range(wo):
            patch = xp[:, oy * sy:oy * sy + kh, ox * sx:ox * sx + kw, :]
            out[:, oy, ox] = patch.reshape(len(x), -1)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_schedule_image_computes_golden_sums(seed):
    rng = np.random.default_rng(seed)
    shape = (3, 3, int(rng.choice([2, 4, 6])))
    conv = random_conv(rng, f"c{seed}", shape, domain=["bipolar", "sparse"][seed % 2],
                       prune=0.5 if seed % 4 == 0 else None)
    fan = conv.weights[0].size
    pe, simd = int(rng.integers(1, conv.out_channels + 1)), int(rng.integers(1, fan + 1))
    x = rng.integers(0, 2, (2, *shape)).astype(np.uint8)
    win = windows(x, conv)
    got = execute(conv, pe, simd, win.reshape(-1, win.shape[-1]))
    want = golden.conv_sums(x, conv).reshape(-1, conv.out_channels)
    sched = fold_schedule(conv, pe, simd)
    live = [o for o in range(conv.out_channels) if o not in sched.constant]
    assert (got[:, live] == want[:, live]).all()
    assert (want[:, list(sched.constant)] == 0).all()   # constant channels really sum to 0


def test_dense_steps_and_pruned_half():
    rng = np.random.default_rng(1)
    conv = random_conv(rng, "c", (4, 4, 8), out_channels=8, kernel=(3, 3), padding=(1, 1),
                       stride=(1, 1), groups=1, domain="bipolar", prune=0.0)
    for pe, simd in ((1, 9), (2, 9), (4, 18), (8, 72), (3, 10)):
        assert fold_schedule(conv, pe, simd).steps == -(-8 // pe) * -(-72 // simd)
    keep = np.zeros(64, dtype=np.uint8)
    keep[rng.permutation(64)[:32]] = 1
    mask = np.broadcast_to(keep.reshape(8, 1, 1, 8), conv.weights.shape).astype(np.uint8)
    half = replace(conv, mask=mask)
    for pe in (1, 2, 4):
        dense, pruned = fold_schedule(conv, pe, 9), fold_schedule(half, pe, 9)
        assert pruned.live_ops == dense.live_ops // 2      # no pruned block is visited
        assert not pruned.needs_mask                        # chunks are whole blocks
        # lanes get whole channels: the busiest lane exceeds the mean by < one channel
        longest = max(len(chunks) for chunks in _live(half))
        assert pruned.steps < -(-pruned.live_ops // pe) + longest
        if pe <= 2:
            assert pruned.steps <= 0.55 * dense.steps


def _live(conv):
    from hw.folded.schedule import live_chunks
    return live_chunks(conv, 9)


def test_channel_bits_order():
    conv = random_conv(np.random.default_rng(2), "c", (3, 3, 3), out_channels=2,
                       kernel=(2, 2), padding=(0, 0), stride=(1, 1), groups=1)
    bits = channel_bits(conv.weights)
    order = field_order(conv)
    flat = conv.weights.reshape(2, -1)       # window order: (ky, kx, i)
    assert (bits == flat[:, order]).all()


def test_target_and_devices():
    assert target_cycles(None, 1000, 24) == 24000
    assert target_cycles(500, None, None) == 500
    with pytest.raises(UserError):
        target_cycles(None, 1000, None)
    with pytest.raises(UserError):
        target_cycles(None, -1, 10)
    assert find_device("85F").name == "ecp5-85f"
    assert find_device("up5k").family == "ice40"
    with pytest.raises(UserError, match="unknown device"):
        find_device("xc7a35t")
    assert find_device("pynq-z2").name == "xc7z020"
    assert (find_device("zc706").family, find_device("zc706").bram) == ("xilinx", 1090)


@pytest.mark.parametrize("family", ["ice40", "ecp5", "xilinx", "gowin"])
def test_plan_numbers_are_the_estimate(tmp_path, capsys, family):
    """One cost model: plan.json's per-layer and total LUT/FF/BRAM/LUT-RAM are what
    `bnngen estimate --plan --json` prints for the plan's family."""
    desc = random_description(6, height=8, width=8)
    model = tmp_path / "m.json"
    save(desc, model)
    plan_file = tmp_path / "plan.json"
    floor = analyse(desc, {}).ii
    assert main(["plan", str(model), "--cycles", str(6 * floor), "--family", family,
                 "-o", str(plan_file)]) == 0
    capsys.readouterr()
    assert main(["estimate", str(model), "--plan", str(plan_file), "--json"]) == 0
    est = json.loads(capsys.readouterr().out)["estimate"][family]
    plan = json.loads(plan_file.read_text())
    assert any(lp["engine"] == "folded" for lp in plan["layers"])
    for lp in plan["layers"]:
        assert {k: lp[k] for k in ("lut", "ff", "bram", "lutram")} == est["layers"][lp["name"]]
    assert plan["total"] == est["total"]


@pytest.mark.parametrize("seed", [0, 2, 4, 7, 11])
def test_unrolled_interval_matches_window_model(seed):
    """The chain model agrees with the window generator's own cycle model (hw)."""
    from hw.network import Network
    desc = random_description(seed)
    assert analyse(desc, {}).ii == Network(desc).timing.ii


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_plans_meet_their_targets(seed):
    from gen.plan.planned_top import planned_top
    desc = random_description(seed, height=8, width=8)
    floor = analyse(desc, {}).ii
    previous = None
    for factor in (1, 2, 5, 20):
        plan = plan_network(desc, factor * floor, fold=factor > 1)
        assert plan.ii <= plan.target_cycles
        for lp, layer in zip(plan.layers, desc.layers):
            if lp.kind == "conv":
                assert lp.cycles == lp.steps * layer.out_shape[0] * layer.out_shape[1]
                assert lp.cycles <= plan.target_cycles
        # The blocks' own timing (hw: each engine, window and FIFO), not the planner's
        # chain model, gives the planned network's interval.
        assert planned_top(desc, plan).timing.ii == plan.ii
        assert "predicted II" in plan_table(plan)
        assert plan_from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
        if previous is not None:
            assert plan.total["lut"] <= previous.total["lut"] * 1.05 + 50
        previous = plan if factor > 1 else None


def test_target_below_floor():
    desc = random_description(4)
    with pytest.raises(UserError, match="fully unrolled"):
        plan_network(desc, 3)


def test_plan_cli(tmp_path, capsys):
    desc = random_description(5, height=8, width=8)
    model = tmp_path / "m.json"
    save(desc, model)
    out = tmp_path / "plan.json"
    floor = analyse(desc, {}).ii
    rc = main(["plan", str(model), "--cycles", str(4 * floor), "--device", "85f",
               "-o", str(out)])
    assert rc == 0
    assert "fits" in capsys.readouterr().out
    plan = load_plan(out)
    assert plan.device == "ecp5-85f" and plan.ii <= 4 * floor
    capsys.readouterr()
    # `bnngen estimate --plan`: the fitted block costs, folded engines as their own fitted
    # block kind; a plan that unrolls everything is the plain estimate, exactly.
    folding = plan_network(desc, 4 * floor, fold=True)
    (tmp_path / "folded.json").write_text(json.dumps(folding.to_dict()))
    assert main(["estimate", str(model), "--plan", str(tmp_path / "folded.json"),
                 "--json"]) == 0
    folded = json.loads(capsys.readouterr().out)
    assert set(folded["estimate"]) == {"ice40", "ecp5", "xilinx", "gowin"}
    # (at the floor the planner may stream the dense layer: unroll it by hand)
    unrolled = plan_network(desc, floor)
    unrolled = replace(unrolled, layers=tuple(
        replace(lp, engine="unrolled") if lp.kind == "conv" else lp for lp in unrolled.layers))
    (tmp_path / "unrolled.json").write_text(json.dumps(unrolled.to_dict()))
    assert main(["estimate", str(model), "--plan", str(tmp_path / "unrolled.json"),
                 "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert main(["estimate", str(model), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert same["estimate"] == plain["estimate"] != folded["estimate"]
    assert main(["plan", str(model), "--cycles", "2", "-o", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
    assert main(["plan", str(model), "--fps", "10", "--clock", "1", "--device", "foo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "unknown device" in err
    (tmp_path / "bad.json").write_text("{\"format\": \"other\"}")
    with pytest.raises(UserError, match="not a bnngen plan"):
        load_plan(tmp_path / "bad.json")


def test_pareto_front():
    from gen.plan.explore import pareto
    rows = [{"ii": 10, "lut": 100, "bram": 1}, {"ii": 20, "lut": 50, "bram": 1},
            {"ii": 20, "lut": 60, "bram": 1}, {"ii": 30, "lut": 50, "bram": 0},
            {"ii": 10, "lut": 100, "bram": 1}]
    assert pareto(rows) == [True, True, False, True, False]


def test_explore_cli(tmp_path, capsys):
    desc = random_description(5, height=6, width=6)
    model = tmp_path / "m.json"
    save(desc, model)
    out = tmp_path / "ex"
    assert main(["explore", str(model), "--points", "4", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".bnngen-output", "explore.json",
                                                     "explore.md", "explore.png"]
    data = json.loads((out / "explore.json").read_text())
    front = [r for r in data["plans"] if r["pareto"]]
    assert front and all(r["ii"] <= r["target"] for r in data["plans"])
    assert "Pareto front" in capsys.readouterr().out
    assert main(["explore", str(model), "--points", "1", "-o", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "y").exists()


def test_planned_top_checks_the_plan(tmp_path):
    from gen.plan.planned_top import manifest_fields, planned_top
    desc = random_description(3, height=6, width=6)
    plan = plan_network(desc, 4 * analyse(desc, {}).ii, fold=True)
    top = planned_top(desc, plan)
    assert top.timing.ii == plan.ii        # the blocks' own Timing agrees with the planner
    assert manifest_fields(plan)["plan"]["predicted_ii"] == plan.ii
    other = random_description(4)
    with pytest.raises(UserError, match="the plan is for layers"):
        planned_top(other, plan)
    bad = replace(plan, layers=tuple(replace(lp, pe=999) if lp.engine == "folded" else lp
                                     for lp in plan.layers))
    with pytest.raises(UserError, match="out of range"):
        planned_top(desc, bad)


def test_fold_shape_matches_schedule():
    """The planner's quick sizes equal those of the engine's real schedule and word."""
    from hw.folded.schedule import fold_shape
    rng = np.random.default_rng(9)
    for _ in range(40):
        conv = random_conv(rng, "c", (4, 4, int(rng.choice([2, 4, 8]))))
        fan = conv.weights[0].size
        pe = int(rng.integers(1, conv.out_channels + 1))
        simd = int(rng.integers(1, fan + 1))
        sched, shape = fold_schedule(conv, pe, simd), fold_shape(conv, pe, simd)
        word = WeightWord(sched)
        assert (shape.steps, shape.mux_columns, shape.needs_mask, shape.word_width) == \
            (sched.steps, len(word.mux_columns), sched.needs_mask, word.width)
        # per multiplexer column, the lanes with a channel that read it (front 3's copies)
        assert shape.column_lanes == tuple(
            sum(1 for lane, c in enumerate(word.lane_mux) if c == k and sched.lanes[lane])
            for k in range(len(word.mux_columns)))


def test_dense_shape_matches_schedule():
    """The streamed dense engine's quick sizes equal its real schedule's and word's."""
    from hw.dense.word import DenseWord
    from hw.dense.schedule import dense_schedule
    from hw.dense.shape import dense_shape
    rng = np.random.default_rng(10)
    for _ in range(40):
        in_shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.choice([2, 4, 8])))
        conv = random_conv(rng, "d", in_shape, dense=True, scores=bool(rng.random() < 0.5))
        pe = int(rng.integers(1, conv.out_channels + 1))
        simd = int(rng.integers(1, conv.in_channels_per_group + 1))
        sched, shape = dense_schedule(conv, pe, simd), dense_shape(conv, pe, simd)
        word = DenseWord(sched)
        assert (shape.steps, shape.lanes, shape.mux_columns, shape.needs_mask,
                shape.word_width) == (sched.steps, sched.lanes, len(word.mux_columns),
                                      sched.needs_mask, word.width)
        assert sum(sched.pixel_steps) == sched.steps
        assert shape.column_lanes == tuple(word.lane_mux.count(k)
                                           for k in range(len(word.mux_columns)))
        words = word.encode(conv)
        ones, every = 0, (1 << word.width) - 1
        for w in words:
            ones, every = ones | w, every & w
        assert shape.rom_width == bin(ones & ~every).count("1")


def test_planner_streams_folded_dense_layers():
    """A folded dense layer is the streaming engine: no window, its cycles per frame the sum
    of its cycles per pixel, the same in the plan, the flow model and the built block; a
    simd wider than one pixel's group bits is refused with the layer named."""
    from hw.folded.planned import FoldedDenseLayer, PlannedNetwork
    desc = random_description(3, height=6, width=6)
    plan = plan_network(desc, 4 * analyse(desc, {}).ii, fold=True)
    net = PlannedNetwork(desc, plan.choices(), stages=plan.stages)
    dense, lp = net.layers[-1], plan.layers[-1]
    assert isinstance(dense, FoldedDenseLayer) and dense.window is None
    assert dense.timing.ii == lp.steps == lp.cycles == sum(flow_steps(desc, plan)[lp.name])
    assert net.timing.ii == plan.ii
    cg = desc.layers[-1].in_channels_per_group
    bad = replace(plan, layers=plan.layers[:-1] + (replace(lp, simd=cg + 1),))
    with pytest.raises(UserError, match=f"plan layer {lp.name}: .*1..{cg}"):
        check_plan(bad, desc)


def test_build_with_plan(tmp_path, capsys):
    """`bnngen build --plan`: folded blocks, the plan in the manifest, deterministic."""
    desc = random_description(3, height=6, width=6)
    model = tmp_path / "m.json"
    save(desc, model)
    floor = analyse(desc, {}).ii
    assert main(["plan", str(model), "--cycles", str(4 * floor), "--fold-all",
                 "-o", str(tmp_path / "p.json")]) == 0
    for out in ("b1", "b2"):
        assert main(["build", str(model), "--plan", str(tmp_path / "p.json"),
                     "-o", str(tmp_path / out)]) == 0
    man = json.loads((tmp_path / "b1" / "manifest.json").read_text())
    plan = load_plan(tmp_path / "p.json")
    assert man["plan"]["predicted_ii"] == plan.ii == man["cycles_per_frame"]
    assert "FoldedConvLayer" in {layer["class"] for layer in man["layers"]}
    for f in ("bnn_top.v", "manifest.json"):
        assert (tmp_path / "b1" / f).read_bytes() == (tmp_path / "b2" / f).read_bytes()
    other = tmp_path / "o.json"
    save(random_description(4), other)
    capsys.readouterr()
    assert main(["build", str(other), "--plan", str(tmp_path / "p.json"),
                 "-o", str(tmp_path / "b3")]) == 2
    assert "the plan is for layers" in capsys.readouterr().err
    assert not (tmp_path / "b3").exists()


def test_shallow_lut_roms_are_offered_whatever_their_width():
    """A weight ROM of at most ROM_WORDS_PER_LUT words costs a LUT per output bit (so the
    planner offers it in LUTs at any width); a deeper one only within LOGIC_ROM_MAX_BITS
    unless LUT memories are asked for."""
    from gen.estimate.cell_cost import ROM_WORDS_PER_LUT, rom_features
    from gen.plan.search import layer_options
    from gen.plan.cost import LOGIC_ROM_MAX_BITS, option_blocks
    assert rom_features([(16, 1000), (4, 8), (128, 10)]) == {"rom_luts": 1008, "rom_bits": 1280}
    rng = np.random.default_rng(5)
    conv = random_conv(rng, "fc", (1, 1, 512), out_channels=64, groups=1, domain="bipolar",
                       prune=0.0, dense=True)

    def lut_roms(opts):
        out = []
        for o in opts:
            if o.engine == "folded":
                blocks = option_blocks(conv, "folded", o.pe, o.simd, o.memory, 1, (1, 1, 512))
                out += [r for b in blocks for r in b.logic_roms]
        return out

    shallow = lut_roms(layer_options(conv, 16, "xilinx", in_shape=(1, 1, 512)))
    assert max(d * w for d, w in shallow) > LOGIC_ROM_MAX_BITS
    assert all(d <= ROM_WORDS_PER_LUT for d, _ in shallow)
    deep = lut_roms(layer_options(conv, 512, "xilinx", in_shape=(1, 1, 512)))
    assert all(d <= ROM_WORDS_PER_LUT or d * w <= LOGIC_ROM_MAX_BITS for d, w in deep)
    asked = lut_roms(layer_options(conv, 512, "xilinx", memory="distributed",
                                   in_shape=(1, 1, 512)))
    assert any(d > ROM_WORDS_PER_LUT and d * w > LOGIC_ROM_MAX_BITS for d, w in asked)


def test_plan_refuses_a_skid_register_on_an_unrolled_layer():
    desc = random_description(2, height=5, width=5, max_channels=4)
    plan = plan_network(desc, analyse(desc, {}).ii)
    data = plan.to_dict()
    conv = next(lp for lp in data["layers"] if lp["engine"] == "unrolled")
    conv["skid"] = True
    with pytest.raises(UserError, match=rf"layer .*{conv['name']}.*'skid'.*no skid register"):
        plan_from_dict(data, "p.json")


def test_objective_logic_spends_brams_to_save_logic(tmp_path):
    """`--objective logic` plans the shipped model on the 25F at 100 MHz with fewer LUTs and
    flip-flops than the balanced plan, by more BRAMs, within LOGIC_FILL of the device, at
    the same target; without a device it is refused."""
    from gen.plan.search import LOGIC_FILL
    cycles = target_cycles(None, 1000, 100)
    dev = find_device("ecp5-25f")
    desc = load("models/zoo/default.json")
    bal = plan_network(desc, cycles, device=dev.name, clock_mhz=100)
    assert main(["plan", "zoo:default", "--fps", "1000", "--clock", "100", "--device", "25f",
                 "--objective", "logic", "-o", str(tmp_path / "p.json")]) == 0
    logic = load_plan(tmp_path / "p.json")

    def cells(p):
        return p.lut_equivalent + p.total["ff"]
    assert cells(logic) < cells(bal) and logic.total["bram"] > bal.total["bram"]
    assert logic.lut_equivalent <= LOGIC_FILL * dev.lut
    assert logic.total["bram"] <= LOGIC_FILL * dev.bram
    assert logic.ii <= cycles and logic.slowest_path["meets"]
    with pytest.raises(UserError, match="needs a device"):
        plan_network(desc, cycles, clock_mhz=100, objective="logic")


def test_objective_logic_stays_within_its_fill_or_plans_balanced():
    """On made-up options on the 25F (24,288 LUTs, 56 BRAMs): "logic" takes the option with
    less logic while it stays within LOGIC_FILL, not one past it, and when every choice
    goes past it plans as "balanced" does."""
    from gen.plan.cost import Cost
    from gen.plan.search import Option, select
    dev = find_device("ecp5-25f")

    def opt(lut, bram):
        return Option("folded", 1, 1, 1, "block", Cost(lut, lut, bram, 0))

    def chosen(options, objective):
        return select([options], Cost(), "ecp5", dev, objective)[0]
    brams, luts, full_brams, full_luts = opt(2000, 40), opt(12000, 0), opt(1000, 55), \
        opt(23000, 0)
    assert chosen([brams, luts], "balanced") is luts      # 49% of the LUTs against 71% BRAM
    assert chosen([brams, luts], "logic") is brams
    assert chosen([full_brams, luts], "logic") is luts     # 98% of the BRAMs: past 90%
    assert chosen([full_brams, full_luts], "logic") is chosen([full_brams, full_luts],
                                                              "balanced") is full_luts
