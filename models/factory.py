"""Seeded random descriptions covering the whole description space.

`random_description(seed)` draws a valid network: either encoder, convolutions with every
kernel/stride/padding/pad_bit/groups option (depthwise included), both weight domains,
block-pruned masks with all-pruned channels, flips, thresholds on range ends, max-pools,
and a dense scores layer. Keyword options pin any choice, so tests can ask for a case.
"""

from __future__ import annotations

import numpy as np

from .description import (Activation, Bitplanes, Conv, Description, InputSpec, MaxPool, Scores,
                          Thermometer, conv_out_hw, encoded_shape)


def random_thermometer(rng: np.random.Generator, channels: int, bits: int, planes: int,
                       shared: bool | None = None, edges: bool = False) -> Thermometer:
    """Strictly increasing thresholds in [1, 2^bits - 1]; `edges` puts the range ends in."""
    top = (1 << bits) - 1
    planes = min(planes, top)
    shared = bool(rng.integers(2)) if shared is None else shared
    rows = []
    for _ in range(1 if shared else channels):
        row = np.sort(rng.choice(np.arange(1, top + 1), size=planes, replace=False))
        if edges:
            row[0] = 1
            row[-1] = top
            row = np.unique(row)
            while len(row) < planes:  # refill after collisions, keeping the ends
                row = np.unique(np.append(row, rng.integers(1, top + 1)))
        rows.append(row)
    return Thermometer(thresholds=np.array(rows, dtype=np.int64), learned=bool(rng.integers(2)))


def block_mask(rng: np.random.Generator, shape: tuple[int, int, int, int], fraction: float,
               block: str = "kernel") -> np.ndarray:
    """A block-pruning mask: `kernel` blocks are one (o, i) kernel slice; `channel` blocks
    are one whole output channel (an all-pruned channel)."""
    o, _, _, cg = shape
    if block == "channel":
        keep = rng.random(o) >= fraction
        return np.broadcast_to(keep[:, None, None, None], shape).astype(np.uint8)
    keep = rng.random((o, cg)) >= fraction
    return np.broadcast_to(keep[:, None, None, :], shape).astype(np.uint8).copy()


def random_conv(rng: np.random.Generator, name: str, in_shape: tuple[int, int, int], *,
                out_channels: int | None = None, kernel=None, stride=None, padding=None,
                pad_bit: int | None = None, groups: int | None = None, domain: str | None = None,
                prune: float | None = None, scores: bool = False, dense: bool = False) -> Conv:
    h, w, c_in = in_shape
    if dense:
        kernel, stride, padding = (h, w), (1, 1), (0, 0)
    if kernel is None:
        kernel = tuple(int(rng.choice([k for k in (1, 2, 3, 5) if k <= s])) for s in (h, w))
    if padding is None:
        padding = tuple(int(rng.integers(0, k // 2 + 1)) if k > 1 else 0 for k in kernel)
    if stride is None:
        stride = (int(rng.choice([1, 1, 2])),) * 2
    if out_channels is None:
        out_channels = int(rng.choice([2, 3, 4, 6, 8, 12, 16]))
    if groups is None:
        common = [g for g in range(1, min(c_in, out_channels) + 1)
                  if c_in % g == 0 and out_channels % g == 0]
        groups = int(rng.choice(common)) if rng.random() < 0.5 else 1
    domain = domain or str(rng.choice(["bipolar", "sparse"]))
    pad_bit = int(rng.integers(2)) if pad_bit is None else pad_bit
    cg = c_in // groups
    wshape = (out_channels, kernel[0], kernel[1], cg)
    weights = (rng.random(wshape) < (0.3 if domain == "sparse" else 0.5)).astype(np.uint8)
    mask, q, p = None, 1, 0
    if domain == "bipolar":
        if prune is None:
            prune = float(rng.choice([0.0, 0.0, 0.5, 0.75]))
        if prune > 0:
            mask = block_mask(rng, wshape, prune, block=str(rng.choice(["kernel", "channel"])))
    else:
        q = int(rng.integers(1, 4))
        p = int(rng.choice([0, 0, -1, 1, -2]))
    ho, wo = conv_out_hw(h, w, kernel, stride, padding)
    fan_in = kernel[0] * kernel[1] * cg
    if scores:
        act = None
        sc = Scores(scale=rng.integers(1, 4, out_channels),
                    offset=rng.integers(-8, 9, out_channels))
    else:
        # Thresholds around the middle of the sum's range, sometimes on its ends.
        lo, hi = (min(0, p * fan_in), q * fan_in + max(0, p * fan_in)) if domain == "sparse" \
            else (0, fan_in)
        th = rng.integers(lo, hi + 1, out_channels)
        ends = rng.random(out_channels)
        th = np.where(ends < 0.1, lo, np.where(ends > 0.9, hi + 1, th))
        act = Activation(thresholds=th.astype(np.int64),
                         flip=(rng.random(out_channels) < 0.3).astype(np.uint8))
        sc = None
    return Conv(name=name, out_channels=out_channels, kernel=tuple(kernel), stride=tuple(stride),
                padding=tuple(padding), pad_bit=pad_bit, groups=groups, domain=domain,
                weights=weights, mask=mask, q=q, p=p, activation=act, scores=sc,
                out_shape=(ho, wo, out_channels))


def random_description(seed: int, *, height: int | None = None, width: int | None = None,
                       channels: int | None = None, bits: int | None = None,
                       encoder: str | None = None, planes: int | None = None,
                       convs: int | None = None, pool: bool | None = None,
                       domain: str | None = None, classes: int | None = None,
                       max_channels: int = 16) -> Description:
    """A valid random network, small enough to simulate; every choice can be pinned."""
    rng = np.random.default_rng(seed)
    h = height or int(rng.integers(3, 11))
    w = width or int(rng.integers(3, 11))
    c = channels or int(rng.choice([1, 1, 2, 3]))
    b = bits or int(rng.choice([1, 2, 4, 8, 8]))
    inp = InputSpec(height=h, width=w, channels=c, bits=b)
    kind = encoder or str(rng.choice(["thermometer", "bitplanes"]))
    if kind == "thermometer":
        enc = random_thermometer(rng, c, b, planes or int(rng.integers(1, 5)),
                                 edges=bool(rng.random() < 0.3))
    else:
        enc = Bitplanes()
    shape = encoded_shape(inp, enc)
    layers: list = []
    n_convs = int(rng.integers(1, 4)) if convs is None else convs
    for i in range(n_convs):
        oc = int(rng.choice([n for n in (2, 3, 4, 6, 8, 12, 16) if n <= max_channels]))
        layer = random_conv(rng, f"conv{i}", shape, out_channels=oc, domain=domain)
        layers.append(layer)
        shape = layer.out_shape
        want_pool = (rng.random() < 0.4) if pool is None else (pool and i == 0)
        if want_pool and shape[0] >= 2 and shape[1] >= 2:
            k = (2, 2) if rng.random() < 0.7 else (min(3, shape[0]), min(3, shape[1]))
            s = (int(rng.integers(1, 3)),) * 2
            ho, wo = conv_out_hw(shape[0], shape[1], k, s, (0, 0))
            layers.append(MaxPool(name=f"pool{i}", kernel=k, stride=s,
                                  out_shape=(ho, wo, shape[2])))
            shape = layers[-1].out_shape
    n_classes = classes or int(rng.integers(2, 11))
    layers.append(random_conv(rng, "classifier", shape, out_channels=n_classes, scores=True,
                              dense=True, domain=domain))
    return Description(name=f"random-{seed}", input=inp, encoder=enc, layers=tuple(layers),
                       metadata={"factory_seed": seed})


def random_images(desc: Description, count: int, seed: int = 0,
                  edges: bool = True) -> np.ndarray:
    """Random samples plus edge images: all zeros, all ones (max), values on thresholds."""
    rng = np.random.default_rng(seed)
    top = (1 << desc.input.bits) - 1
    x = rng.integers(0, top + 1, (count, *desc.input.shape))
    if edges and count >= 3:
        x[0] = 0
        x[1] = top
        if isinstance(desc.encoder, Thermometer):
            th = desc.encoder.channel_thresholds(desc.input.channels)
            pick = rng.integers(0, th.shape[1], desc.input.shape)
            x[2] = np.take_along_axis(np.broadcast_to(th, (*desc.input.shape[:2], *th.shape)),
                                      pick[..., None], axis=-1)[..., 0]
    return x.astype(np.uint16 if desc.input.bits > 8 else np.uint8)
