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
