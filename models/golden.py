"""The golden model: the bit-exact meaning of a description, in NumPy only.

Every RTL test and the torch exporter are judged against these functions. Feature maps
are uint8 arrays of shape (N, H, W, C) holding bits; sums are int64. Convolutions are
im2col + matrix products in floating point, exact because every partial sum is an
integer far below the mantissa limit (checked).
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
    scores: np.ndarray        # (N, classes) int64
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
    """The integer s_o of DESIGN.md for every position: (N, Ho, Wo, O) int64."""
    ph, pw = layer.padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=layer.pad_bit)
    win = _windows(x, layer.kernel, layer.stride)
    n, ho, wo = win.shape[:3]
    g, cg, og = layer.groups, layer.in_channels_per_group, layer.out_channels_per_group
    kh, kw = layer.kernel
    k = kh * kw * cg
    # Float32 holds every integer partial sum exactly up to 2^24.
    ftype = np.float32 if 2 * k < (1 << 24) else np.float64
    out = np.empty((n, ho, wo, layer.out_channels), dtype=np.int64)
    w = layer.weights.astype(ftype)
    m = layer.kept.astype(ftype)
    win = win.reshape(n, ho, wo, kh, kw, g, cg)
    rows_per_image = ho * wo
    images_per_chunk = max(1, _CHUNK_ROWS // max(1, rows_per_image))
    for j in range(g):
        oc = slice(j * og, (j + 1) * og)
        wj = w[oc].reshape(og, k).T            # (K, Og)
        mj = m[oc].reshape(og, k).T
        for i0 in range(0, n, images_per_chunk):
            a = win[i0:i0 + images_per_chunk, :, :, :, :, j].reshape(-1, k).astype(ftype)
            if layer.domain == "bipolar":
                # XNOR(a, b) = 1 - a - b + 2ab, summed over kept positions.
                s = mj.sum(axis=0) - a @ mj - (wj * mj).sum(axis=0) + 2 * (a @ (wj * mj))
            else:
                s = layer.q * (a @ wj) + layer.p * a.sum(axis=1, keepdims=True)
            out[i0:i0 + images_per_chunk, :, :, oc] = np.rint(s).astype(np.int64).reshape(
                -1, ho, wo, og)
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
    return layer.scores.scale * s + layer.scores.offset, s


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
