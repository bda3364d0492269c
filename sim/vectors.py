"""Pack golden-model arrays into stream words and compare what a DUT sent back.

A pixel word holds channel c at bit c; a window word holds (ky*kw + kx)*C + c. Mismatch
messages name the layer (block), the pixel (frame, y, x), the channel, expected and actual.
"""

from __future__ import annotations

import numpy as np

from sim.benches.tb import array_words, words_array


def pack_bits(bits: np.ndarray) -> list[int]:
    """(..., C) 0/1 array -> one int per leading index, bit c = element c."""
    flat = bits.reshape(-1, bits.shape[-1]).astype(np.uint8)
    packed = np.packbits(flat, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def pack_samples(images: np.ndarray, bits: int) -> list[int]:
    """(N, H, W, C) samples -> one int per pixel, sample c at bits [c*B, (c+1)*B)."""
    flat = images.reshape(-1, images.shape[-1]).astype(np.int64)
    return [sum(int(v) << (c * bits) for c, v in enumerate(row)) for row in flat]


def reference_windows(x: np.ndarray, kernel, stride, padding, pad_bit) -> np.ndarray:
    """(N, H, W, C) bits -> (N, Ho, Wo, kh*kw*C) window bits in engine order."""
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=pad_bit)
    v = np.lib.stride_tricks.sliding_window_view(xp, kernel, axis=(1, 2))
    v = v[:, ::stride[0], ::stride[1]]                     # N, Ho, Wo, C, kh, kw
    v = v.transpose(0, 1, 2, 4, 5, 3)                      # N, Ho, Wo, kh, kw, C
    return v.reshape(*v.shape[:3], -1)


# Result words, laid out from the description alone (docs/interface.md, "Result layout"):
# the tests never take a width from hw/, so a register one bit too narrow cannot agree with
# an expectation cut to its own width.

def score_range(conv) -> tuple[int, int]:
    """[lo, hi] holding 0 and every score k_o*s_o + c_o of a scores layer, with s_o in
    [0, kept_o] (bipolar: agreements over the kept weights) or in
    [min(0, p*fan), q*ones_o + max(0, p*fan)] (sparse: 0 <= P_and <= ones_o and
    0 <= P_all <= fan, the two terms bounded apart)."""
    lo = hi = 0
    for o in range(conv.out_channels):
        weights = conv.weights[o]
        if conv.domain == "bipolar":
            sums = (0, weights.size if conv.mask is None else int(conv.mask[o].sum()))
        else:
            fan, ones = weights.size, int(weights.sum())
            sums = (min(0, conv.p * fan), conv.q * ones + max(0, conv.p * fan))
        k, c = int(conv.scores.scale[o]), int(conv.scores.offset[o])
        lo, hi = min(lo, *(k * s + c for s in sums)), max(hi, *(k * s + c for s in sums))
    return lo, hi


def signed_bits(lo: int, hi: int) -> int:
    """The fewest two's complement bits (at least 2) holding every integer in [lo, hi]."""
    bits = 2
    while not -(1 << (bits - 1)) <= lo <= hi < 1 << (bits - 1):
        bits += 1
    return bits


def result_fields(conv, whole_bytes: bool = False) -> tuple[int, int]:
    """(class bits, bits per score) of a scores layer's result: the class unsigned, each
    score two's complement; `whole_bytes`: each rounded up to bytes (the network's beat)."""
    cb = max(1, (conv.out_channels - 1).bit_length())
    sb = signed_bits(*score_range(conv))
    return (-(-cb // 8) * 8, -(-sb // 8) * 8) if whole_bytes else (cb, sb)


def pack_result(cls: int, scores, cb: int, sb: int) -> int:
    """The class in bits [0, cb), score o in [cb + o*sb, cb + (o+1)*sb); a value that does
    not fit its field is an error, never cut to it."""
    if not 0 <= int(cls) < 1 << cb:
        raise ValueError(f"class {cls} does not fit {cb} bits")
    word = int(cls)
    for o, s in enumerate(scores):
        if not -(1 << (sb - 1)) <= int(s) < 1 << (sb - 1):
            raise ValueError(f"score {o} = {s} does not fit {sb} bits")
        word |= (int(s) % (1 << sb)) << (cb + o * sb)
    return word


def unpack_result(word: int, classes: int, cb: int, sb: int) -> tuple[int, list[int]]:
    """(class, scores as signed integers) from a result word; bits above the last score
    must be zero."""
    scores = []
    for o in range(classes):
        v = (word >> (cb + o * sb)) & ((1 << sb) - 1)
        scores.append(v - (1 << sb) if v >> (sb - 1) else v)
    if word >> (cb + classes * sb):
        raise AssertionError(f"result word {word:#x} has bits above its {classes} scores")
    return word & ((1 << cb) - 1), scores


def engine_output_bits(conv) -> int:
    """An engine's output payload: a bit per channel, or a scores layer's result."""
    if conv.scores is None:
        return conv.out_channels
    cb, sb = result_fields(conv)
    return cb + sb * conv.out_channels


def stream_widths(desc) -> tuple[int, int]:
    """(s_axis_tdata, m_axis_tdata) bits: a pixel's samples, and the result beat, each in
    whole bytes."""
    cb, sb = result_fields(desc.layers[-1], whole_bytes=True)
    return (-(-desc.input.channels * desc.input.bits // 8) * 8,
            cb + sb * desc.layers[-1].out_channels)


def to_npz(words: list[int], width: int) -> np.ndarray:
    return words_array(words, width)


def from_npz(arr: np.ndarray) -> list[int]:
    return array_words(arr)


def compare_words(layer: str, expected: list[int], actual: list[int], shape: tuple[int, ...],
                  channel_bits: int = 1) -> None:
    """Assert equality; on a mismatch name layer, pixel (frame, y, x), channel, values.

    `shape` is (frames, H, W): the raster positions of the words. A channel is a field of
    `channel_bits` bits (1 for bit maps, the sample width for other payloads)."""
    for n, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            diff = e ^ a
            low = (diff & -diff).bit_length() - 1
            ch = low // channel_bits
            mask = (1 << channel_bits) - 1
            pos = np.unravel_index(n, shape)
            raise AssertionError(
                f"{layer}: mismatch at pixel (frame, y, x) = {tuple(int(p) for p in pos)}, "
                f"channel {ch}: expected {(e >> (ch * channel_bits)) & mask}, actual "
                f"{(a >> (ch * channel_bits)) & mask} (word expected {e:#x}, actual {a:#x})")
    if len(actual) != len(expected):
        n = len(actual)
        at = tuple(int(p) for p in np.unravel_index(min(n, len(expected) - 1), shape))
        raise AssertionError(f"{layer}: expected {len(expected)} words, got {n} (all equal so "
                             f"far); first missing at pixel (frame, y, x) = {at}")


def check_outputs(layer: str, expected: list[int], out: dict, shape: tuple[int, ...],
                  channel_bits: int = 1) -> list[int]:
    """Compare a bench's (possibly partial) outputs with the reference; then insist the
    bench itself passed (it fails on a timeout, for example)."""
    actual = from_npz(out["outputs"])
    compare_words(layer, expected, actual, shape, channel_bits)
    if out["failed"]:
        raise AssertionError(f"{layer}: outputs matched but the cocotb bench failed")
    return actual
