"""Structural features of the unrolled engine (hw.engine.ConvEngine): its popcount trees,
the channels that are constant, thresholds, scores and the argmax."""

from __future__ import annotations

from functools import lru_cache

from models.description import Conv
from hw.popcount import register_levels, tree_levels

from gen.estimate.blocks import Block, int_bits, popcount_profile, wide_adder_bits


@lru_cache(maxsize=4096)  # pure in its integers; big layers repeat tree sizes
def visible_max(n: int, stages: int) -> int:
    """The largest popcount over `n` leaves that synthesis can rule in behind the tree's
    registers: each register keeps the bits its node can reach, but the logic after it
    sees those bits as free, so the sum of their all-ones values."""
    if n == 0:
        return 0
    at = register_levels(tree_levels(n), stages)
    bound = [1] * n
    level = 0
    visible = list(bound)
    if at and at[-1] == 0:
        return n
    while len(bound) > 1:
        bound = [bound[i] + bound[i + 1] for i in range(0, len(bound) - 1, 2)] + (
            [bound[-1]] if len(bound) % 2 else [])
        level += 1
        if at and at[-1] == level:   # the last register: logic after it sees free bits
            visible = [(1 << int_bits(b)) - 1 for b in bound]
            break
    else:
        return n if not at else max(n, sum(visible))
    # later levels add the register outputs: their sum is what the comparator can see
    return sum(visible)


def constant_channels(conv: Conv, stages: int = 1) -> list[bool]:
    """Output channels whose threshold lies outside the range of s_o that synthesis can
    see (`visible_max` behind the popcount registers): the output is a constant that
    yosys/ABC proves, and the whole popcount tree goes. A threshold outside only the
    true range (a sum the registers' free bits could exceed) leaves the tree in place."""
    if conv.activation is None:
        return [False] * conv.out_channels
    fan = int(conv.weights[0].size)
    kept = (conv.kept if conv.domain == "bipolar" else conv.weights).reshape(
        conv.out_channels, -1).sum(1)
    all_max = visible_max(fan, stages) if conv.domain == "sparse" and conv.p else 0
    out = []
    for o in range(conv.out_channels):
        top = visible_max(int(kept[o]), stages)
        if conv.domain == "bipolar":
            lo, hi = 0, top
        else:
            lo = min(0, conv.p * all_max)
            hi = conv.q * top + max(0, conv.p * all_max)
        tau = int(conv.activation.thresholds[o])
        if conv.activation.flip[o]:
            out.append(tau >= hi or tau < lo)
        else:
            out.append(tau <= lo or tau > hi)
    return out


def _arithmetic(conv: Conv) -> bool:
    """A sparse layer whose s_o needs real adders or multipliers after the popcounts
    (p != 0, or q not a power of two): its comparator sits behind carry-chain cells."""
    return conv.domain == "sparse" and bool(conv.p or conv.q & (conv.q - 1))


def visible_range(conv: Conv, o: int, stages: int = 1) -> tuple[int, int]:
    """The range of s_o as synthesis sees it behind the popcount registers."""
    kept = int((conv.kept if conv.domain == "bipolar" else conv.weights)[o].sum())
    top = visible_max(kept, stages)
    if conv.domain == "bipolar":
        return 0, top
    all_max = visible_max(int(conv.weights[o].size), stages) if conv.p else 0
    return min(0, conv.p * all_max), conv.q * top + max(0, conv.p * all_max)


def score_bits(conv: Conv, o: int, stages: int = 1) -> int:
    """Register bits of score o that can change: a constant score (an all-pruned channel)
    has none, sign-extension copies merge into one, and k's trailing zero bits are
    constant (yosys drops constant flip-flops and merges identical ones)."""
    k = int(conv.scores.scale[o])
    lo, hi = visible_range(conv, o, stages)
    if k == 0 or lo == hi:
        return 0
    c = int(conv.scores.offset[o])
    a, b = sorted((k * lo + c, k * hi + c))
    need = max(max(a, -a - 1).bit_length(), max(b, -b - 1).bit_length()) + 1
    return max(1, need - ((abs(k) & -abs(k)).bit_length() - 1))


def argmax_register_bits(classes: int, score_bits: int, stages: int) -> int:
    """Registers of hw.engine.argmax_tree's `stages` and beside them: per stage the tree's
    nodes at its level (a score and an index each), the scores held for the output, a
    valid bit."""
    idx = int_bits(max(1, classes - 1))
    return sum(-(-classes // 2 ** level) * (score_bits + idx) + classes * score_bits + 1
               for level in register_levels(tree_levels(classes), stages))


def engine_block(conv: Conv, stages: int = 1, argmax_stages: int = 0) -> Block:
    """hw.engine.ConvEngine: one popcount tree per output channel (plus P_all per group in
    the sparse domain), then thresholds, or scores and an argmax. Trees of constant
    channels are counted apart: `dead_*` where the constant shows through plain logic
    (ABC removes them on every flow), `arith_dead_*` where it hides behind the sparse
    domain's adders (ECP5's and Gowin's carry cells are opaque to ABC: they stay)."""
    o_n = conv.out_channels
    fan = conv.weights[0].size
    dead = constant_channels(conv, stages)
    dead_kind = "arith_dead_" if _arithmetic(conv) else "dead_"
    feats = {f"{pre}{k}": 0 for pre in ("", "dead_", "arith_dead_")
             for k in ("half_adders", "adder_bits")}
    feats["scale_bits"] = 0
    regs = wide = 0
    sums_w = []
    per_o = (conv.kept if conv.domain == "bipolar" else conv.weights).reshape(o_n, -1).sum(1)
    for o, n in enumerate(per_o):
        f, la, r = popcount_profile(int(n), stages)
        pre = dead_kind if dead[o] else ""
        feats[pre + "half_adders"] += f
        feats[pre + "adder_bits"] += la
        wide += 0 if dead[o] else wide_adder_bits(int(n))
        regs += r
        sums_w.append(int_bits(int(n)))
    if conv.domain == "sparse" and conv.p:
        og = conv.out_channels_per_group
        f, la, r = popcount_profile(int(fan), stages)
        for j in range(conv.groups):
            pre = dead_kind if all(dead[j * og:(j + 1) * og]) else ""
            feats[pre + "half_adders"] += f
            feats[pre + "adder_bits"] += la
            wide += 0 if pre else wide_adder_bits(int(fan))
            regs += r
        feats["scale_bits"] += sum(int_bits(fan) + int_bits(abs(conv.p)) + int_bits(conv.q) + 1
                                   for o in range(o_n) if not dead[o])
    if conv.domain == "sparse" and conv.q > 1:
        feats["scale_bits"] += sum(w for w, d in zip(sums_w, dead) if not d)
    # A first-level adder's output is 2 bits: one tree-bit count for every level.
    for pre in ("", "dead_", "arith_dead_"):
        feats[pre + "tree_bits"] = (2 * feats.pop(pre + "half_adders")
                                    + feats.pop(pre + "adder_bits"))
    # The live trees' wide adders, apart (tree_bits keeps the narrow ones).
    feats["tree_bits"] -= wide
    feats["wide_tree_bits"] = wide
    if _arithmetic(conv):  # trees that feed the scale adders map differently
        feats["arith_tree_bits"] = feats.pop("tree_bits")
        feats["wide_arith_tree_bits"] = feats.pop("wide_tree_bits")
    feats["one"] = 1
    ff = regs + stages + 1
    if conv.scores is None:
        feats["cmp_bits"] = sum(w for w, d in zip(sums_w, dead) if not d)
        ff += o_n
    else:
        sw = result_score_width(conv)
        eff = [score_bits(conv, o, stages) for o in range(o_n)]
        feats["score_bits"] = sum(eff)
        # The argmax chain: compare score o with the best so far and select (as wide as
        # the widest score yet, plus the index); against a constant it is much cheaper.
        widest = eff[0]
        feats["argmax_bits"] = feats["argmax_const_bits"] = 0
        for o in range(1, o_n):
            kind = "argmax_bits" if widest and eff[o] else "argmax_const_bits"
            widest = max(widest, eff[o])
            feats[kind] += widest + int_bits(o)
        ff += o_n * sw + 1 + o_n * sw + int_bits(o_n - 1)
        ff += argmax_register_bits(o_n, sw, argmax_stages)
    return Block("engine", feats, ff=ff)


def result_score_width(conv: Conv) -> int:
    from hw.engine import score_width
    return score_width(conv)
