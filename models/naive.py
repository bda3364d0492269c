"""A deliberately naive reference of the format's semantics (docs/model-format.md), for
tests: it walks every output element with explicit index arithmetic (no im2col, no np.pad,
no matrix products), so that it shares no code path with models/golden.py. The golden model
is judged by it (tests/test_golden.py), and so are the commands that report what the golden
model computes. Slow: small models and a few images only."""

from __future__ import annotations

import itertools

import numpy as np

from models.description import Conv, Description, MaxPool, Thermometer


def naive_encode(image, desc: Description):
    h, w, c = image.shape
    enc = desc.encoder
    if isinstance(enc, Thermometer):
        planes = enc.planes
    else:
        planes = desc.input.bits
    out = np.zeros((h, w, c * planes), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            for ch in range(c):
                value = int(image[y, x, ch])
                for p in range(planes):
                    if isinstance(enc, Thermometer):
                        row = enc.thresholds[0 if len(enc.thresholds) == 1 else ch]
                        bit = 1 if value >= int(row[p]) else 0
                    else:
                        bit = (value // (2 ** p)) % 2
                    out[y, x, ch * planes + p] = bit
    return out


def naive_conv_sum(a, layer: Conv, y: int, x: int, o: int) -> int:
    """s_o at output position (y, x), one receptive-field element at a time."""
    h, w, c_in = a.shape
    cg = c_in // layer.groups
    group = o // (layer.out_channels // layer.groups)
    agree = p_and = p_all = 0
    for ky in range(layer.kernel[0]):
        for kx in range(layer.kernel[1]):
            iy = y * layer.stride[0] + ky - layer.padding[0]
            ix = x * layer.stride[1] + kx - layer.padding[1]
            for i in range(cg):
                inside = 0 <= iy < h and 0 <= ix < w
                bit = int(a[iy, ix, group * cg + i]) if inside else layer.pad_bit
                weight = int(layer.weights[o, ky, kx, i])
                if layer.domain == "bipolar":
                    kept = 1 if layer.mask is None else int(layer.mask[o, ky, kx, i])
                    if kept and bit == weight:
                        agree += 1
                else:
                    p_and += bit & weight
                    p_all += bit
    if layer.domain == "bipolar":
        return agree
    return layer.q * p_and + layer.p * p_all


def naive_conv(a, layer: Conv):
    ho, wo, oc = layer.out_shape
    out = np.zeros((ho, wo, oc), dtype=np.int64)
    for y, x, o in itertools.product(range(ho), range(wo), range(oc)):
        s = naive_conv_sum(a, layer, y, x, o)
        if layer.activation is not None:
            t = int(layer.activation.thresholds[o])
            if layer.activation.flip[o]:
                out[y, x, o] = 1 if s <= t else 0
            else:
                out[y, x, o] = 1 if s >= t else 0
        else:
            out[y, x, o] = int(layer.scores.scale[o]) * s + int(layer.scores.offset[o])
    return out


def naive_pool(a, layer: MaxPool):
    ho, wo, c = layer.out_shape
    out = np.zeros((ho, wo, c), dtype=np.uint8)
    for y in range(ho):
        for x in range(wo):
            for ch in range(c):
                bit = 0
                for ky in range(layer.kernel[0]):
                    for kx in range(layer.kernel[1]):
                        bit |= int(a[y * layer.stride[0] + ky, x * layer.stride[1] + kx, ch])
                out[y, x, ch] = bit
    return out


def naive_forward(desc: Description, image):
    maps = [naive_encode(image, desc)]
    for layer in desc.layers:
        if isinstance(layer, MaxPool):
            maps.append(naive_pool(maps[-1], layer))
        else:
            maps.append(naive_conv(maps[-1], layer))
    scores = maps[-1].reshape(-1)
    best = 0
    for o in range(1, len(scores)):
        if scores[o] > scores[best]:
            best = o
    return maps, scores, best


def naive_predictions(desc: Description, images) -> list[int]:
    """The class of each image (the lowest index among equal scores)."""
    return [naive_forward(desc, image)[2] for image in images]
