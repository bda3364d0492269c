"""Structural features of the folded engine (hw.folded.engine) and the streaming
dense engine (hw.dense.engine): lanes, chunk multiplexers, accumulators, weight ROMs."""

from __future__ import annotations

from models.description import Conv

from hw.fanout import group_slices, lane_copies


from gen.estimate.blocks import Block, int_bits, popcount_profile, wide_adder_bits
from gen.estimate.engine_blocks import argmax_register_bits, result_score_width


def folded_block(conv: Conv, pe: int, simd: int, memory: str, stages: int = 1,
                 argmax_stages: int = 0, front: int = 0, skid: bool = False) -> Block:
    """hw.folded.engine.FoldedEngine: per mux column a `chunks`-way multiplexer of `simd` bits; per
    lane an XNOR/AND popcount of `simd` variable bits (and P_all's), an accumulator, a
    threshold ROM read by the lane's channel counter and a comparator (or the sums of a
    scores layer), a shift register of results; the weight ROM of `steps` words in block
    RAM or in logic; the window register."""
    from hw.folded.lanes import signed_width, sum_bounds
    from hw.folded.memory import pick_style
    from hw.folded.schedule import assign_lanes, fold_shape, live_chunks

    shape = fold_shape(conv, pe, simd)
    fan = int(conv.weights[0].size)
    chunks = conv.groups * -(-fan // simd) + 1
    lanes = [lane for lane in assign_lanes([len(c) for c in live_chunks(conv, simd)], pe)
             if lane]
    lo, hi = sum_bounds(conv)
    acc = signed_width(lo, hi)
    stages += front > 0          # hw.folded.lanes.FRONTS: the leaves' register is a popcount stage
    scaled = conv.domain == "sparse" and stages >= 2    # hw.folded.lanes.lane_sum
    first, later, regs = popcount_profile(simd, stages - scaled, front > 0)
    regs += acc * scaled
    stages += front > 2          # front 3: the chunk registers' cycle
    trees = len(lanes) * (2 if conv.domain == "sparse" and conv.p else 1)
    # The wide adders of trees of 64+ leaves apart, as in the unrolled engine.
    wide = wide_adder_bits(simd)
    feats = {"tree_bits": trees * (2 * first + later - wide), "wide_tree_bits": trees * wide,
             "acc_bits": len(lanes) * acc,
             "leaf_bits": len(lanes) * simd * (2 if shape.needs_mask else 1),
             "step_bits": int_bits(shape.steps), "one": 1}
    ff = (kh_kw_c(conv) + 1 + int_bits(shape.steps) + trees * regs + 2 * stages * (pe + 1)
          + len(lanes) * acc)
    roms, logic = _weight_rom(memory, shape.steps, shape.word_width, shape.word_width)
    ff += _lane_outputs(conv, lanes, acc, feats, argmax_stages, front,
                        pick_style(memory, shape.steps, shape.word_width), roms)
    ff += _rom_registers(logic) + _word_register(front, shape.word_width)
    ff += copy_registers(conv, pe, simd, front, skid, pick_style(memory, shape.steps,
                         shape.word_width), shape.steps, shape.word_width)
    ff += result_copies(conv, lanes, acc, skid)
    ff += chunk_registers(front, simd, shape.column_lanes, len(lanes), shape.needs_mask, skid)
    ff += skid and shape.steps > 1   # the last step's flag a step ahead (hw.folded.memory)
    return Block("folded", feats, ff=ff, muxes=[(shape.mux_columns * simd, chunks)],
                 roms=roms, logic_roms=logic)


def dense_block(conv: Conv, pe: int, simd: int, memory: str, stages: int = 1,
                argmax_stages: int = 0, front: int = 0, skid: bool = False) -> Block:
    """hw.dense.engine.StreamingDense, in the folded engine's terms (its coefficients): a
    `chunks`-way multiplexer of `simd` bits per mux column over one pixel; per lane an XNOR/AND
    popcount and an adder into one sum register, or into a bank of sums (a LUT-RAM, `banks`)
    when its channels interleave over the pixels; per lane a threshold read in turn and one
    comparator (or the sums of a scores layer), a shift register of results; the weight ROM; the
    pixel register."""
    from hw.dense.schedule import slot_bits
    from hw.dense.shape import dense_shape
    from hw.folded.lanes import signed_width, sum_bounds
    from hw.folded.memory import pick_style

    shape = dense_shape(conv, pe, simd)
    cg = conv.in_channels_per_group
    chunks = conv.groups * -(-cg // simd) + 1
    lanes = shape.lanes
    lo, hi = sum_bounds(conv)
    acc = signed_width(lo, hi)
    stages += front > 0          # hw.folded.lanes.FRONTS: the leaves' register is a popcount stage
    scaled = conv.domain == "sparse" and stages >= 2    # hw.folded.lanes.lane_sum
    first, later, regs = popcount_profile(simd, stages - scaled, front > 0)
    regs += acc * scaled
    stages += front > 2          # front 3: the chunk registers' cycle
    trees = len(lanes) * (2 if conv.domain == "sparse" and conv.p else 1)
    # The wide adders of trees of 64+ leaves apart, as in the unrolled engine.
    wide = wide_adder_bits(simd)
    feats = {"tree_bits": trees * (2 * first + later - wide), "wide_tree_bits": trees * wide,
             "acc_bits": len(lanes) * acc,
             "leaf_bits": len(lanes) * simd * (2 if shape.needs_mask else 1),
             "step_bits": int_bits(shape.steps), "one": 1}
    banks = [(len(lane), acc) for lane, banked in zip(lanes, shape.banked) if banked]
    # (a banked lane's slot travels with its first/last flags)
    slots = sum(slot_bits(lane, banked) for lane, banked in zip(lanes, shape.banked))
    ff = (cg * conv.groups + 1 + int_bits(shape.steps) + trees * regs + 2 * stages * (pe + 1)
          + stages * slots + sum(acc for banked in shape.banked if not banked))
    # yosys keeps only the ROM bits that vary from step to step.
    roms, logic = _weight_rom(memory, shape.steps, shape.word_width, shape.rom_width)
    ff += _lane_outputs(conv, lanes, acc, feats, argmax_stages, front,
                        pick_style(memory, shape.steps, shape.word_width), roms, shape.banked)
    ff += _rom_registers(logic) + _word_register(front, shape.rom_width)
    ff += copy_registers(conv, len(lanes), simd, front, skid, pick_style(
        memory, shape.steps, shape.word_width), shape.steps, shape.rom_width)
    ff += result_copies(conv, lanes, acc, skid)
    ff += chunk_registers(front, simd, shape.column_lanes, len(lanes), shape.needs_mask, skid)
    if skid and front >= 2:       # `ready` in a register, a copy per group of the pixel's bits
        ff += len(group_slices(cg * conv.groups))
        ff += shape.end_varies    # and the next step's pixel-end flag (hw.dense.engine)
    return Block("folded", feats, ff=ff, muxes=[(shape.mux_columns * simd, chunks)],
                 roms=roms, banks=banks, logic_roms=logic)


def result_copies(conv: Conv, lanes, acc: int, skid: bool) -> int:
    """hw.folded.lanes.lane_results: with a skid register, a wide lane register's copies of
    it, one per group of the register's bits (results, or a scores layer's sums)."""
    width = 1 if conv.scores is None else acc
    counts = [len(group_slices(len(lane) * width)) for lane in lanes]
    return sum(n for n in counts if n > 1) if skid else 0


def chunk_registers(front: int, simd: int, column_lanes, lanes: int, mask: bool,
                    skid: bool) -> int:
    """`front` 3 (hw.folded.lanes.chunk_registers, lane_weights): per multiplexer column a
    register of `simd` bits for each LANES_PER_COPY lanes that read it (with a skid
    register, a copy of it per group of a register's bits), and each lane's weights (and
    mask) in a register."""
    if front < 3:
        return 0
    regs = sum(lane_copies(n) for n in column_lanes)
    return regs * (simd + skid * len(group_slices(simd))) + lanes * simd * (1 + mask)


def copy_registers(conv: Conv, lanes: int, simd: int, front: int, skid: bool, style: str,
                   steps: int, rom_width: int) -> int:
    """Flip-flops of the hw.fanout copies a folded or streamed engine keeps besides those of
    its `ready`: with a skid register, the lanes' copies of `adv` (hw.folded.lanes
    .lane_enables; the skid register itself is the first); per slice of a word register
    after the first (hw.folded.memory.memory_slices, of the `rom_width` bits the
    ROM keeps), the counter's next two values (one, for a ROM read from the counter) and
    copies of `full` and, with a skid register, of `adv`."""
    from hw.folded.lanes import lane_enable_count
    from hw.folded.memory import read_from_counter, slice_bits
    ff = lanes * lane_enable_count(conv, simd, front > 0) - 1 if skid else 0
    comb = read_from_counter(style, steps)
    if front >= 2 and (style == "block" or comb):
        slices = max(1, -(-rom_width // slice_bits(style, steps)))
        ff += (slices - 1) * ((1 if comb else 2) * int_bits(max(steps, 2) - 1) + 1 + skid)
    return ff


def _lane_outputs(conv: Conv, lanes, acc: int, feats: dict, argmax_stages: int,
                  front: int, weight_style: str, roms: list, banked=None) -> int:
    """hw.folded.lanes.lane_results and engine_output, shared by the folded and streamed
    engines: per lane a threshold memory read in turn and a comparator, or a scores layer's
    sums; the result shift registers, the output (and score and argmax) registers. A lane
    whose thresholds are read a step ahead (hw.folded.lanes.threshold_memory) has a step
    counter (the two registers of its next values, from which it is read) and a read
    register, and in block RAM its memory joins
    `roms`. With `front` 3 each lane's `last` enters a register before the comparison,
    and the sum of a lane with a bank of sums (`banked`) too (the others compare their
    accumulator), and the engine's `final` a register to match (result_stage). Adds the
    features, returns the register bits."""
    from hw.folded.lanes import threshold_memory, threshold_width
    tw = threshold_width(conv) if conv.scores is None else 0
    where = [(len(lane), threshold_memory(front, weight_style, len(lane), tw + 1)
              if conv.scores is None else None) for lane in lanes]
    staged = 0
    if front > 2:
        staged = 1 + sum(1 + (compared_bits(conv, lane, acc, kind is not None) if bank else 0)
                         for lane, bank, (_, kind) in zip(lanes, banked or [False] * len(lanes),
                                                          where))
    if conv.scores is None:
        ahead = [n for n, kind in where if kind]
        in_block = [n for n, kind in where if kind == "block"]
        feats["cmp_bits"] = len(lanes) * tw
        feats["thr_rom_bits"] = (sum(len(lane) for lane in lanes) - sum(in_block)) * (tw + 1)
        feats["result_bits"] = sum(len(lane) for lane in lanes)
        roms.extend((n, tw + 1) for n in in_block)
        feats["step_bits"] += sum(int_bits(n - 1) for n in ahead)
        # per lane its results and its count of finished channels (range(n))
        ff = sum(len(lane) + (len(lane) - 1).bit_length() for lane in lanes)
        ff += conv.out_channels + 1 + staged
        return ff + sum(tw + 1 + 2 * int_bits(n - 1) - (n - 1).bit_length()
                        for n, kind in where if kind)
    sw = result_score_width(conv)
    feats["result_bits"] = sum(len(lane) * acc for lane in lanes)
    feats["score_bits"] = conv.out_channels * sw
    feats["argmax_bits"] = sum(sw + int_bits(o) for o in range(1, conv.out_channels))
    return (staged + feats["result_bits"] + 2 * conv.out_channels * sw
            + int_bits(conv.out_channels) + 2
            + argmax_register_bits(conv.out_channels, sw, argmax_stages))


def compared_bits(conv: Conv, channels, width: int, from_register: bool = False) -> int:
    """Bits of a lane's `width`-bit sum that its threshold comparisons read: none below the
    lowest bit that every threshold leaves clear (s >= tau is the same test on the bits
    above), which yosys drops from a register of the sum; a scores layer reads them all,
    and so does a lane with a flipped threshold (s <= tau: yosys keeps the low bits) read
    from a register (`from_register`)."""
    if conv.scores is not None:
        return width
    act = conv.activation
    if from_register and any(int(act.flip[o]) for o in channels):
        return width
    edges = [(int(act.thresholds[o]) + int(act.flip[o])) % (1 << width) for o in channels]
    low = min(((e & -e).bit_length() - 1 if e else width - 1) for e in edges)
    return width - min(low, width - 1)


def _weight_rom(memory: str, steps: int, word_width: int,
                kept_width: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A folded engine's weight ROM as (depth, width): ([in block RAM], [in LUTs]). The
    style follows the whole word, as the hardware picks it (hw.folded.memory.pick_style); of its
    bits, `kept_width` survive synthesis."""
    from hw.folded.memory import pick_style
    if pick_style(memory, steps, word_width) == "block":
        return [(steps, kept_width)], []
    return [], [(steps, kept_width)]


def _rom_registers(logic_roms: list[tuple[int, int]]) -> int:
    """Read registers of weight ROMs in logic: a ROM of up to hw.folded.memory.ASYNC_ROM_MAX_DEPTH
    words is read without one."""
    from hw.folded.memory import ASYNC_ROM_MAX_DEPTH
    return sum(w for d, w in logic_roms if d > ASYNC_ROM_MAX_DEPTH)


def _word_register(front: int, width: int) -> int:
    """hw.folded.memory.stepped_memory's word register (`front` 2 and 3)."""
    return width if front >= 2 else 0


def kh_kw_c(conv: Conv) -> int:
    """Bits of a window (the folded engine's input register)."""
    return conv.kernel[0] * conv.kernel[1] * conv.in_channels_per_group * conv.groups


def _sum_range(conv: Conv, o: int) -> tuple[int, int]:
    from hw.engine import sum_range
    return sum_range(conv, o)
