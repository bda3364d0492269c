"""The golden model: the bit-exact meaning of a description, in NumPy only.

Every RTL test and the torch exporter are judged against these functions. Feature maps
are uint8 arrays of shape (N, H, W, C) holding bits; sums are int64. Convolutions are
im2col + matrix products of 0/1 values in floating point; each product is a count of at
most K = kh*kw*C_in/g bits, exact in float32 below 2^24 and in float64 below 2^53 (the
validator keeps K below 2^27). The counts are turned into int64 before q, p or any other
integer multiplies them, so every sum is exact: |s| <= (q + |p|) * K < 2^48. Scores
k*s + c can exceed int64 at the validator's extremes (2^20 * 2^48 + 2^40): where a layer's
bound says so they are Python integers (an object array), else int64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .description import Activation, Bitplanes, Conv, Description, MaxPool, Thermometer

# Rows of im2col per chunk: bounds memory to ~chunk * K * 4 bytes.
_CHUNK_ROWS = 1 << 16


@dataclass(frozen=True, eq=False)
class Result:
    predictions: np.ndarray   # (N,) int64
    scores: np.ndarray        # (N, classes) int64, or Python ints (object) past int64
    maps: list[np.ndarray]    # encoder output, then each layer's output bits (N, H, W, C)
    sums: np.ndarray          # (N, classes) int64: s_o of the scores layer


def encode(images: np.ndarray, encoder, bits: int) -> np.ndarray:
    """(N, H, W, C) unsigned samples -> (N, H, W, C*P) bits, channel index c*P + p."""
    x = np.asarray(images).astype(np.int64)
    n, h, w, c = x.shape
    if isinstance(encoder, Thermometer):
        th = encoder.channel_thresholds(c)                      # (C, T)
        out = x[..., :, None] >= th[None, None, None, :, :]     # (N, H, W, C, T)
    elif isinstance(encoder, Bitplanes):
        out = (x[..., None] >> np.arange(bits)) & 1             # (N, H, W, C, B)
    else:
        raise TypeError(f"unknown encoder {encoder!r}")
    return out.reshape(n, h, w, -1).astype(np.uint8)


def _windows(x: np.ndarray, kernel, stride) -> np.ndarray:
    """(N, H, W, C) -> (N, Ho, Wo, kh, kw, C) view of every window."""
    v = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))  # N,H',W',C,kh,kw
    v = v[:, ::stride[0], ::stride[1]]
    return v.transpose(0, 1, 2, 4, 5, 3)


def conv_sums(x: np.ndarray, layer: Conv) -> np.ndarray:
    """The integer s_o (docs/model-format.md) at every position: (N, Ho, Wo, O) int64."""
    ph, pw = layer.padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=layer.pad_bit)
    win = _windows(x, layer.kernel, layer.stride)
    n, ho, wo = win.shape[:3]
    g, cg, og = layer.groups, layer.in_channels_per_group, layer.out_channels_per_group
    kh, kw = layer.kernel
    k = kh * kw * cg
    # Float32 holds every count (at most k) exactly below 2^24, float64 below 2^53.
    ftype = np.float32 if k < (1 << 24) else np.float64
    out = np.empty((n, ho, wo, layer.out_channels), dtype=np.int64)
    w = layer.weights.astype(ftype)
    m = layer.kept.astype(ftype)
    win = win.reshape(n, ho, wo, kh, kw, g, cg)
    rows_per_image = ho * wo
    images_per_chunk = max(1, _CHUNK_ROWS // max(1, rows_per_image))

    def count(x: np.ndarray) -> np.ndarray:
        return np.rint(x).astype(np.int64)

    for j in range(g):
        oc = slice(j * og, (j + 1) * og)
        wj = w[oc].reshape(og, k).T            # (K, Og)
        mj = m[oc].reshape(og, k).T
        kept = count(mj.sum(axis=0))                     # kept weights per output
        kept_ones = count((wj * mj).sum(axis=0))         # kept weights of bit 1
        for i0 in range(0, n, images_per_chunk):
            a = win[i0:i0 + images_per_chunk, :, :, :, :, j].reshape(-1, k).astype(ftype)
            if layer.domain == "bipolar":
                # XNOR(a, b) = 1 - a - b + 2ab, summed over kept positions.
                s = kept - count(a @ mj) - kept_ones + 2 * count(a @ (wj * mj))
            else:
                s = layer.q * count(a @ wj) + layer.p * count(a.sum(axis=1, keepdims=True))
            out[i0:i0 + images_per_chunk, :, :, oc] = s.reshape(-1, ho, wo, og)
    return out


def activate(sums: np.ndarray, act: Activation) -> np.ndarray:
    ge = sums >= act.thresholds
    le = sums <= act.thresholds
    return np.where(act.flip.astype(bool), le, ge).astype(np.uint8)


def maxpool(x: np.ndarray, layer: MaxPool) -> np.ndarray:
    return _windows(x, layer.kernel, layer.stride).max(axis=(3, 4))


def layer_forward(x: np.ndarray, layer) -> tuple[np.ndarray, np.ndarray | None]:
    """One layer: (output bits or scores, the raw sums for a conv)."""
    if isinstance(layer, MaxPool):
        return maxpool(x, layer), None
    s = conv_sums(x, layer)
    if layer.activation is not None:
        return activate(s, layer.activation), s
    return scores(s, layer), s


def sum_bound(layer: Conv) -> int:
    """The largest |s_o| the layer can produce."""
    k = int(layer.weights[0].size)
    return k if layer.domain == "bipolar" else (abs(layer.q) + abs(layer.p)) * k


def scores(sums: np.ndarray, layer: Conv) -> np.ndarray:
    """k_o * s_o + c_o, exactly: int64 where it provably fits, else Python integers."""
    scale, offset = layer.scores.scale, layer.scores.offset
    bound = int(np.abs(scale).max()) * sum_bound(layer) + int(np.abs(offset).max())
    if bound < (1 << 63):
        return scale * sums + offset
    return sums.astype(object) * scale.astype(object) + offset.astype(object)


def argmax_lowest(scores: np.ndarray) -> np.ndarray:
    """Argmax along the last axis; the lowest index wins a tie (np.argmax already does)."""
    return np.argmax(scores, axis=-1)


def forward(desc: Description, images: np.ndarray, keep_maps: bool = True) -> Result:
    """Run a batch (N, H, W, C) or (N, H, W) of unsigned samples through the network."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    expected = desc.input.shape
    if x.shape[1:] != expected:
        raise ValueError(f"images have shape {x.shape[1:]}, the model expects {expected}")
    if x.size and (x.min() < 0 or x.max() >= (1 << desc.input.bits)):
        raise ValueError(f"sample values must lie in [0, {(1 << desc.input.bits) - 1}]")
    bits = encode(x, desc.encoder, desc.input.bits)
    maps = [bits] if keep_maps else []
    sums = None
    for layer in desc.layers:
        bits, sums = layer_forward(bits, layer)
        if keep_maps:
            maps.append(bits)
    scores = bits.reshape(len(x), -1)
    return Result(predictions=argmax_lowest(scores), scores=scores, maps=maps,
                  sums=sums.reshape(len(x), -1))


def predict(desc: Description, images: np.ndarray, batch: int = 1000) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """(predictions, scores) for many images, in batches, without keeping maps."""
    preds, scores = [], []
    for i in range(0, len(images), batch):
        r = forward(desc, images[i:i + batch], keep_maps=False)
        preds.append(r.predictions)
        scores.append(r.scores)
    return np.concatenate(preds), np.concatenate(scores)
