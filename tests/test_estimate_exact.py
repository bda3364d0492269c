"""The estimator's structural counts and memory choices on cases small enough to count by
hand: the adder tree of hw.popcount, the registers yosys keeps, yosys's memory_libmap cost
rule with the library numbers of share/<family>/*.txt. Every expected value below was worked
out on paper from the hardware's structure and those rules, not by running the estimator."""

from __future__ import annotations

import numpy as np
import pytest

from models.description import (Activation, Bitplanes, Conv, Description, InputSpec, Scores,
                                Thermometer)
from gen.estimate import blocks as bl
from gen.estimate import cell_cost as cc
from gen.estimate import engine_blocks as eb
from gen.estimate import folded_blocks as fb
from gen.estimate import layer_blocks as lb
from gen.estimate.memory_map import MemoryMapping, RomMapping, _per_port, map_memory, map_rom


# ------------------------------------------------------------------- memories (memory_libmap)


def test_per_port_geometries_halve_the_depth():
    assert _per_port(11, (2, 4, 8, 16)) == ((11, 2), (10, 4), (9, 8), (8, 16))


def test_map_memory_by_hand():
    # ice40 28x7: SB_RAM40_4K 512x8 (cost 64) beats 196 bits of logic and the 2-cell shapes
    assert map_memory("ice40", 28, 7) == MemoryMapping("block", "SB_RAM40_4K", 1, 0, 0, 64.0,
                                                       1)
    # 4x3: 12 bits of logic cost less than a block RAM
    assert map_memory("ice40", 4, 3) == MemoryMapping("logic", None, 0, 0, 12, 12.0)
    # 5000x2: three 2048x2 cells, 64*3 + mux (3-1)*2*0.5 + demux 3*0.5
    assert map_memory("ice40", 5000, 2) == MemoryMapping("block", "SB_RAM40_4K", 3, 0, 0,
                                                         195.5, 3)
    # ecp5 28x1: two 16x4 LUT-RAMs (4 each), mux 1*1*0.5, demux 2*0.5, emulation 4*2
    assert map_memory("ecp5", 28, 1) == MemoryMapping("distributed", "TRELLIS_DPR16X4", 0, 2,
                                                      0, 17.5, 2)
    # read asynchronously: no emulated output register
    assert map_memory("ecp5", 28, 1, async_read=True) == MemoryMapping(
        "distributed", "TRELLIS_DPR16X4", 0, 2, 0, 9.5, 2)
    # xilinx 32x6: one RAM32M, (8-7)*1 + 7*1*6/6 + 4*2 = 16 (RAM64M 24, RAM32X1D 20, BRAM 129)
    assert map_memory("xilinx", 32, 6) == MemoryMapping("distributed", "RAM32M", 0, 1, 0,
                                                        16.0, 1)
    # xilinx 128x3: two RAM64M address ranges, (8-7)*2 + 7*2*3/3 + mux 1*3*0.5 + demux 2*0.5
    # + emulation 8 = 26.5 (two RAM32M ranges 32.5, RAM32X1D 32, block RAM 129)
    assert map_memory("xilinx", 128, 3) == MemoryMapping("distributed", "RAM64M", 0, 2, 0,
                                                         26.5, 2)
    # xilinx 32768x1: one RAMB36E1 (257, two units) beats two RAMB18E1 (258 + 1.5)
    assert map_memory("xilinx", 32768, 1) == MemoryMapping("block", "RAMB36E1", 2, 0, 0,
                                                           257.0, 1)
    # asic: always logic
    assert map_memory("asic", 28, 7) == MemoryMapping("logic", None, 0, 0, 196, 196.0)
    # ice40 has no LUT-RAM: an asynchronous read stays in logic
    assert map_memory("ice40", 28, 7, async_read=True).kind == "logic"


def test_map_rom_by_hand():
    assert map_rom("ice40", 768, 5) == RomMapping(1, 3)     # one 256x16 cell, 3 ranges
    assert map_rom("xilinx", 3000, 5) == RomMapping(1, 3)   # 1024x18: 3 ranges of 5 bits
    assert map_rom("ecp5", 100, 3) == RomMapping(1, 1)
    assert map_rom("gowin", 512, 72) == RomMapping(2, 1)
    assert map_rom("ice40", 4096, 2) == RomMapping(2, 2)    # 2048x2: 2 ranges, 4 bits / 2


# ------------------------------------------------------------------- popcount trees


def test_popcount_profile_by_hand():
    # 3 leaves: a half adder (2 bits), then a 3-bit adder; a register after it keeps 2 bits
    assert bl.popcount_profile(3, 0) == (1, 3, 0)
    assert bl.popcount_profile(3, 1) == (1, 3, 2)
    # 4 leaves: two half adders, one 3-bit adder; the count reaches 4: 3 register bits
    assert bl.popcount_profile(4, 1) == (2, 3, 3)
    assert bl.popcount_profile(4, 2) == (2, 3, 7)         # 2+2 after level 1, then 3
    assert bl.popcount_profile(4, 1, leaves=True) == (2, 3, 4)
    assert bl.popcount_profile(2, 3) == (1, 0, 6)         # leaves (2), then 2 and 2
    assert bl.popcount_profile(5, 0) == (2, 7, 0)         # 3-bit and 4-bit adders
    assert bl.popcount_profile(5, 1) == (2, 7, 3)
    assert bl.popcount_profile(0, 2) == (0, 0, 2)


def test_wide_adder_bits_by_hand():
    assert bl.wide_adder_bits(5) == 0
    assert bl.wide_adder_bits(64) == 7                    # the top adder: 7 bits
    assert bl.wide_adder_bits(63) == 7
    assert bl.wide_adder_bits(128) == 8 + 2 * 7


def test_visible_max_by_hand():
    assert eb.visible_max(0, 1) == 0
    assert eb.visible_max(1, 1) == 1
    assert eb.visible_max(5, 0) == 5                      # no register: the true maximum
    assert eb.visible_max(3, 1) == 3
    assert eb.visible_max(5, 1) == 7                      # 3 free register bits
    assert eb.visible_max(5, 2) == 7
    assert eb.visible_max(4, 3) == 7
    assert eb.visible_max(8, 2) == 15


# ------------------------------------------------------------------- layers


def conv(weights, *, mask=None, domain="bipolar", q=1, p=0, act=None, scores=None, groups=1):
    w = np.asarray(weights, dtype=np.uint8)
    o = w.shape[0]
    return Conv(name="c", out_channels=o, kernel=w.shape[1:3], stride=(1, 1), padding=(0, 0),
                pad_bit=0, groups=groups, domain=domain, weights=w,
                mask=None if mask is None else np.asarray(mask, dtype=np.uint8), q=q, p=p,
                activation=act, scores=scores, out_shape=(1, 1, o))


def act(thresholds, flip):
    return Activation(thresholds=np.array(thresholds), flip=np.array(flip, dtype=np.uint8))


def test_constant_channels_bipolar():
    w = np.ones((4, 1, 1, 3))
    # visible range 0..3: a threshold of 0 or 4 (>=) is constant, 0..3 not
    assert eb.constant_channels(conv(w, act=act([0, 1, 3, 4], [0] * 4))) == [
        True, False, False, True]
    assert eb.constant_channels(conv(w, act=act([0, 1, 3, -1], [1] * 4))) == [
        False, False, True, True]
    assert eb.constant_channels(conv(w, scores=Scores(np.ones(4), np.zeros(4)))) == [False] * 4
    # behind 1 register stage 5 leaves look like 0..7: a threshold of 6 is not constant
    w5 = np.ones((2, 1, 1, 5))
    assert eb.constant_channels(conv(w5, act=act([6, 8], [0, 0]))) == [False, True]
    assert eb.constant_channels(conv(w5, act=act([6, 8], [0, 0])), stages=0) == [True, True]


def test_constant_channels_sparse():
    w = [[[[1, 1, 0, 0]]], [[[1, 1, 1, 0]]], [[[1, 0, 0, 0]]], [[[0, 1, 1, 0]]]]
    # q=2, p=-1: P_all visible to 7, so s in -7 .. 2*3
    c = conv(w, domain="sparse", q=2, p=-1, act=act([-7, -6, 7, 6], [0, 0, 0, 0]))
    assert eb.constant_channels(c) == [True, False, True, False]
    # p=+1: s in 0 .. 2*top + 7 (top 3 for 2 or 3 ones, 1 for 1)
    c = conv(w, domain="sparse", q=2, p=1, act=act([0, 14, 10, 13], [1, 0, 0, 1]))
    assert eb.constant_channels(c) == [False, True, True, True]


def masked_scores_conv(scale):
    """Three outputs over three ones, the last masked away; offsets 1, -4, 0."""
    mask = np.ones((3, 1, 1, 3))
    mask[2] = 0
    return conv(np.ones((3, 1, 1, 3)), mask=mask,
                scores=Scores(scale=np.array(scale), offset=np.array([1, -4, 0])))


def test_visible_range_and_score_bits():
    c = masked_scores_conv([2, 1, 4])
    assert eb.visible_range(c, 0) == (0, 3) and eb.visible_range(c, 2) == (0, 0)
    assert eb.score_bits(c, 0) == 3         # 1..7: 4 signed bits, k=2's zero bit constant
    assert eb.score_bits(c, 1) == 3         # -4..-1
    assert eb.score_bits(c, 2) == 0         # a constant score
    wide = conv(np.ones((3, 1, 1, 3)),
                scores=Scores(scale=np.array([4, 0, 1]), offset=np.array([0, 5, 0])))
    assert eb.score_bits(wide, 0) == 3      # 0..12: 5 bits less k=4's two zero bits
    assert eb.score_bits(wide, 1) == 0      # k = 0
    s = conv([[[[1, 1, 0, 0]]]], domain="sparse", q=2, p=-1,
             scores=Scores(scale=np.array([1]), offset=np.array([0])))
    assert eb.visible_range(s, 0) == (-7, 6)
    assert eb.score_bits(s, 0) == 4         # -7..6
    s1 = conv([[[[1, 1, 0, 0]]]], domain="sparse", q=3, p=1,
              scores=Scores(scale=np.array([1]), offset=np.array([0])))
    assert eb.visible_range(s1, 0) == (0, 16)
    assert eb.visible_range(s1, 0, stages=0) == (0, 10)


def test_argmax_register_bits_by_hand():
    assert eb.argmax_register_bits(3, 4, 0) == 0
    # one register after the last level: 1 node (4 + 2 index bits), 3 held scores, valid
    assert eb.argmax_register_bits(3, 4, 1) == 19
    assert eb.argmax_register_bits(3, 4, 2) == 25 + 19    # 2 nodes at level 1


def test_encoder_block_by_hand():
    th = Thermometer(thresholds=np.array([[1, 5, 9], [2, 6, 10]]))
    desc = Description(name="d", input=InputSpec(2, 2, 2, 4), encoder=th, layers=())
    b = bl.encoder_block(desc)
    assert (b.kind, b.features, b.ff) == ("encoder", {"cmp_bits": 24, "one": 1}, 7)
    desc = Description(name="d", input=InputSpec(2, 2, 1, 8), encoder=Bitplanes(), layers=())
    assert (bl.encoder_block(desc).features, bl.encoder_block(desc).ff) == (
        {"cmp_bits": 0, "one": 1}, 9)


def test_unrolled_engine_block_thresholds():
    c = conv(np.ones((2, 1, 1, 3)), act=act([1, 5], [0, 0]))   # channel 1 constant
    b = eb.engine_block(c)
    assert b.kind == "engine" and b.ff == 8                    # 2+2 tree, 1+1, 2 outputs
    assert b.features == {"scale_bits": 0, "tree_bits": 5, "dead_tree_bits": 5,
                          "arith_dead_tree_bits": 0, "wide_tree_bits": 0, "one": 1,
                          "cmp_bits": 2}


def test_unrolled_engine_block_sparse():
    w = [[[[1, 1, 0, 0]]], [[[1, 1, 1, 0]]]]
    c = conv(w, domain="sparse", q=3, p=-1, act=act([0, 2], [0, 0]))
    b = eb.engine_block(c)
    assert b.ff == 11
    assert b.features == {"scale_bits": 18, "dead_tree_bits": 0, "arith_dead_tree_bits": 0,
                          "arith_tree_bits": 14, "wide_arith_tree_bits": 0, "one": 1,
                          "cmp_bits": 4}
    # q a power of two and p = 0: plain popcounts, no scale adders
    plain = conv(w, domain="sparse", q=2, p=0, act=act([1, 2], [0, 0]))
    f = eb.engine_block(plain).features
    assert f["scale_bits"] == 4 and f["tree_bits"] == 2 * 2 + 3 and "arith_tree_bits" not in f


def test_unrolled_engine_block_sparse_all_dead_group():
    w = [[[[1, 1, 0, 0]]], [[[1, 1, 1, 0]]]]
    c = conv(w, domain="sparse", q=3, p=-1, act=act([-8, 10], [0, 0]))   # both constant
    f = eb.engine_block(c).features
    assert f["arith_dead_tree_bits"] == 14 and f["arith_tree_bits"] == 0
    assert f["scale_bits"] == 0 and f["cmp_bits"] == 0


def test_unrolled_engine_block_scores():
    c = masked_scores_conv([2, 1, 1])
    b = eb.engine_block(c)
    # score width 4 (-4..7); registers: trees 2+2+1, valid 1, stages 1, scores 2*3*4 + 1,
    # index 2
    assert b.ff == 34
    assert b.features == {"scale_bits": 0, "tree_bits": 10, "dead_tree_bits": 0,
                          "arith_dead_tree_bits": 0, "wide_tree_bits": 0, "one": 1,
                          "score_bits": 6, "argmax_bits": 4, "argmax_const_bits": 5}
    assert eb.engine_block(c, argmax_stages=1).ff == 34 + 19


def test_small_blocks_by_hand():
    r = bl.reduce_block(3, 4)
    assert (r.kind, r.features, r.ff, r.ors) == ("reduce", {"or_inputs": 12, "one": 1}, 4,
                                                 [(3, 4)])
    s = bl.skid_block(5)
    assert (s.kind, s.features, s.ff) == ("skid", {"mux_bits": 5}, 6)
    c = conv(np.ones((4, 1, 1, 3)), act=act([1] * 4, [0] * 4))
    assert lb.engine_skid(c, False) == []
    assert [b.ff for b in lb.engine_skid(c, True)] == [5]
    sc = conv(np.ones((3, 1, 1, 3)), scores=Scores(np.array([1, 1, 1]), np.array([0, 0, 0])))
    assert [b.ff for b in lb.engine_skid(sc, True)] == [2 + 3 * 3 + 1]   # cls 2, scores 3x3
    g = Conv(**{**conv(np.ones((4, 2, 3, 2))).__dict__, "groups": 2})
    assert fb.kh_kw_c(g) == 2 * 3 * 2 * 2


def test_lut_counts_by_hand():
    assert cc.or_luts("ice40", [(3, 4)]) == 3
    assert cc.or_luts("ice40", [(3, 4), (2, 5), (7, 1)]) == 3 + 4
    assert cc.or_luts("xilinx", [(2, 11)]) == 4
    assert cc.mux_luts("ice40", [(3, 4), (2, 1), (1, 2)]) == 9 + 0 + 1
    assert cc.mux_luts("xilinx", [(2, 16)]) == 2 * 4 + 2 * 1
    assert cc.mux_luts("xilinx", [(1, 5), (1, 4)]) == 3 + 1


def test_memory_bank_and_rom_costs_by_hand():
    assert cc.memory_cost("ice40", [(28, 7), (4, 3)]) == {
        "bram": 1, "lutram": 0, "logic_mem_bits": 12, "lutram_bits": 0}
    assert cc.memory_cost("ecp5", [(28, 1)]) == {
        "bram": 0, "lutram": 2, "logic_mem_bits": 0, "lutram_bits": 28}
    assert cc.bank_cost("ecp5", [(28, 1)]) == {"lutram": 2, "ff": 0, "muxes": [(1, 2)]}
    assert cc.bank_cost("ice40", [(4, 3)]) == {"lutram": 0, "ff": 12, "muxes": [(3, 4)]}
    assert cc.rom_features([(16, 5), (17, 2), (4, 3)]) == {"rom_luts": 8, "rom_bits": 34}
    assert cc.rom_cost("ice40", [(768, 5)]) == {"bram": 1, "mux_luts": 10}
    assert cc.rom_cost("xilinx", [(3000, 5), (100, 3)]) == {"bram": 2, "mux_luts": 5}
    assert fb._rom_registers([(16, 5), (17, 3), (40, 2)]) == 5
    assert fb._word_register(2, 9) == 9
    assert fb._word_register(1, 9) == 0


@pytest.mark.parametrize("memory,expect", [("block", ([(20, 6)], [])),
                                           ("logic", ([], [(20, 6)]))])
def test_weight_rom_follows_the_style(memory, expect):
    assert fb._weight_rom(memory, 20, 8, 6) == expect


def test_window_block_by_hand():
    # 5x6x2, 3x3 "same": 3 shift columns (2 registered), 3 patterns, 6 steps a row, 3 banks;
    # counters: 4 of max(8, bits(8*15)) + 3*bits(6) + bits(6) + bits(5) + 3*bits(3) = 53
    b = bl.window_block((5, 6, 2), (3, 3), (1, 1), (1, 1))
    assert b.features == {"out_bits": 18, "pattern_bits": 36, "banks": 3, "step_bits": 6,
                          "counter_bits": 53, "one": 1, "mem_out_bits": 6, "ragged_bits": 0,
                          "whole_map_bits": 0, "sliding_counter_bits": 53,
                          "odd_bank_bits": 6}
    assert b.ff == 18 + 6 + 12 + 53 + 3 + 8       # window, column (kh*C), shift, counters
    # pipelined (one group of each register): the one column group's banks of rows 1 and 2
    # (2 bits each) for the bank rotation's copy; in front of an engine with a skid
    # register also its `ready` register, and an enable register each for the window, the
    # shift column and the three line buffers' reads (the first also enables the column)
    assert bl.window_block((5, 6, 2), (3, 3), (1, 1), (1, 1), True).ff == b.ff + 2 * 2
    assert bl.window_block((5, 6, 2), (3, 3), (1, 1), (1, 1), True, True).ff == \
        b.ff + 1 + 1 + 1 + 3 + 2 * 2
    assert b.memories == [(6, 2)] * 3 and b.muxes == [(6, 3)] and b.kind == "window"
    # a window as large as the map: one pattern, 4 banks (a power of two)
    d = bl.window_block((4, 4, 1), (4, 4), (1, 1), (0, 0))
    assert d.features == {"out_bits": 16, "pattern_bits": 0, "banks": 4, "step_bits": 4,
                          "counter_bits": 54, "one": 1, "mem_out_bits": 4, "ragged_bits": 0,
                          "whole_map_bits": 16, "sliding_counter_bits": 0, "odd_bank_bits": 0}
    assert d.ff == 16 + 4 + 12 + 54 + 4 + 8
    # 2x2/2 over 5 rows: the last row is never read
    r = bl.window_block((5, 4, 2), (2, 2), (2, 2), (0, 0))
    assert r.features["ragged_bits"] == 4 and r.features["odd_bank_bits"] == 0
    assert bl.window_block((4, 5, 1), (2, 2), (2, 2), (0, 0)).features["ragged_bits"] == 2
    assert bl.window_block((4, 4, 1), (2, 2), (2, 2), (0, 0)).features["ragged_bits"] == 0
    # the row rotation: 3 values for a 3x3 "same" window; a constant for a whole-map
    # window and for a 2x2/2 pool on an even map (yosys proves r_rbank constant)
    assert b.rotation == (6, 3) and d.rotation is None
    assert bl.window_block((4, 4, 1), (2, 2), (2, 2), (0, 0)).rotation is None
    assert bl.window_block((5, 5, 2), (5, 1), (1, 1), (0, 0)).rotation is None
    assert bl.window_block((6, 5, 2), (5, 1), (1, 1), (1, 0)).rotation == (10, 5)
    # 120 rows: the row counters need bits(8 * (120 + 3 + 1 + 1 + 3 + 2)) = 11 bits each
    from hw.window.plan import plan_window
    tall = bl.window_block((120, 4, 1), (3, 3), (1, 1), (1, 1))
    period = plan_window(120, 4, (3, 3), (1, 1), (1, 1)).period
    assert tall.features["counter_bits"] == 4 * 11 + 3 * 3 + max(2, period).bit_length() + 7 + 6
    # 3x3/3 with padding 1 over 4x4: 4 + 2 - 3 = 3 rows and columns, a stride apart: none left
    assert bl.window_block((4, 4, 1), (3, 3), (3, 3), (1, 1)).features["ragged_bits"] == 0


def test_wide_rotation_only_where_the_multiplexer_spills_a_lut():
    from gen.estimate.estimator import block_features, wide_rotation
    # a LUT6 takes 3 rows, their 2-bit bank index and the pad select; a LUT4 only 2 rows
    assert not wide_rotation("xilinx", 3) and wide_rotation("xilinx", 4)
    assert not wide_rotation("ecp5", 2) and wide_rotation("ecp5", 3)
    f = block_features(bl.window_block((6, 5, 2), (5, 1), (1, 1), (1, 0)), "xilinx")["lut"]
    assert f["wide_rotation"] == 1 and f["wide_rotation_bits"] == 10
    constant = bl.window_block((5, 5, 2), (5, 1), (1, 1), (0, 0))   # one output row
    assert "wide_rotation" not in block_features(constant, "xilinx")["lut"]


def test_pool_blocks_by_hand():
    from models.description import MaxPool
    pool = MaxPool(name="p", kernel=(2, 2), stride=(2, 2), out_shape=(2, 2, 3))
    blocks = bl.pool_blocks(pool, (4, 4, 3))
    assert [b.kind for b in blocks] == ["window", "reduce"]
    assert blocks[0] == bl.window_block((4, 4, 3), (2, 2), (2, 2), (0, 0))
    assert blocks[1].ors == [(3, 4)]
    with_skid = bl.pool_blocks(pool, (4, 4, 3), skid=True)
    assert [b.kind for b in with_skid] == ["window", "reduce", "skid"] and with_skid[2].ff == 4


def test_argmax_of_two_classes_and_argmax_stages_through_choices():
    # 2 classes: a 1-bit index; one register: 1 node (4 + 1), 2 held scores, valid
    assert eb.argmax_register_bits(2, 4, 1) == 14
    from gen.plan.cost import option_blocks
    from gen.estimate.timing_model import Pipelining
    from hw.folded.planned import LayerChoice
    w = np.ones((3, 1, 1, 3))
    mask = np.ones((3, 1, 1, 3))
    mask[2] = 0
    c = conv(w, mask=mask, scores=Scores(np.array([2, 1, 1]), np.array([1, -4, 0])))
    # as in test_unrolled_engine_block_scores: 34 register bits, 19 more for one argmax stage
    assert lb.conv_blocks(c, (1, 1, 3), 1, LayerChoice(argmax_stages=1))[0].ff == 34 + 19
    assert lb.conv_blocks(c, (1, 1, 3), 1)[0].ff == 34
    assert option_blocks(c, "unrolled", 0, 0, "", Pipelining(1, 0, 1), (1, 1, 3))[0].ff == 53


def test_folded_block_differences_by_hand():
    from hw.folded.planned import LayerChoice
    w = np.ones((3, 1, 1, 3))
    mask = np.ones((3, 1, 1, 3))
    mask[2] = 0
    c = conv(w, mask=mask, scores=Scores(np.array([2, 1, 1]), np.array([1, -4, 0])))
    f0 = fb.folded_block(c, 1, 3, "auto", stages=1, argmax_stages=0)
    f1 = fb.folded_block(c, 1, 3, "auto", stages=1, argmax_stages=1)
    assert f1.ff - f0.ff == 19                       # argmax_register_bits(3, 4, 1)
    assert f0.features["argmax_bits"] == (4 + 1) + (4 + 2)
    assert f0.features["score_bits"] == 3 * 4
    # sparse, p != 0: a lane has two popcounts of 4 leaves (P_and, P_all): 2 * (2*2 + 3)
    s = conv(np.ones((2, 1, 1, 4)), domain="sparse", q=2, p=-1,
             act=act([1, 2], [0, 0]))
    s1 = fb.folded_block(s, 1, 4, "block", stages=1)
    assert s1.features["tree_bits"] == 14
    assert fb.folded_block(conv(np.ones((2, 1, 1, 4)), act=act([1, 2], [0, 0])), 1, 4,
                           "block").features["tree_bits"] == 7
    # two stages in the sparse domain: the second registers the scaled sum (-4..8: 5 bits)
    # instead of the tree: per tree 3 + 5 register bits instead of 3, and the valid and
    # enable chains of (pe + 1) bits twice per stage
    s2 = fb.folded_block(s, 1, 4, "block", stages=2)
    assert s2.ff - s1.ff == 2 * 5 + 2 * 2
    # a streamed dense layer keeps the weight memory style it is given
    d = conv(np.ones((4, 1, 1, 8)), act=act([1, 2, 3, 4], [0, 0, 0, 0]))
    blocks = lb.conv_blocks(d, (1, 1, 8), 1, LayerChoice(engine="folded", pe=1, simd=2,
                                                         memory="block"))
    assert len(blocks) == 1 and blocks[0].roms and not blocks[0].logic_roms


def test_front_register_on_the_leaves_by_hand():
    """`front` 1 puts a register on the leaves, a popcount stage more: over 5 leaves with 2
    stages (leaves, then after the last level: 5 + 3 bits) instead of 1 (3 bits), and the
    valid and enable chains of pe + 1 = 2 bits twice per stage."""
    from hw.folded.planned import LayerChoice
    c = conv(np.ones((2, 1, 1, 5)), act=act([1, 2], [0, 0]))
    f0 = fb.folded_block(c, 1, 5, "block", stages=1, front=0)
    f1 = fb.folded_block(c, 1, 5, "block", stages=1, front=1)
    assert f1.ff - f0.ff == (5 + 3 - 3) + 2 * 2
    # the same layer as a streamed dense one (a 1x1 map)
    d0 = lb.conv_blocks(c, (1, 1, 5), 1, LayerChoice(engine="folded", pe=1, simd=5,
                                                     memory="block", front=0))[0]
    d1 = lb.conv_blocks(c, (1, 1, 5), 1, LayerChoice(engine="folded", pe=1, simd=5,
                                                     memory="block", front=1))[0]
    assert d1.ff - d0.ff == (5 + 3 - 3) + 2 * 2
