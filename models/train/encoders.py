"""Input encoders: the Generic Learned Thermometer (GLT) and its two baselines.

Every encoder maps unsigned B-bit samples (N, C, H, W) (float tensors holding integers) to
±1 bit planes (N, C*P, H, W) with channel index c*P + p, the order of docs/model-format.md.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .ste import round_ste


def integer_thresholds(theta: np.ndarray, bits: int) -> np.ndarray:
    """Round real thresholds (rows increasing) to strictly increasing integers in
    [1, 2^bits - 1]: round, push collisions up, then pull the top end back down."""
    top = (1 << bits) - 1
    t = np.clip(np.rint(np.asarray(theta, dtype=np.float64)), 1, top).astype(np.int64)
    t = np.atleast_2d(t).copy()
    n = t.shape[1]
    if n > top:
        raise ValueError(f"{n} thresholds do not fit in [1, {top}]")
    for i in range(1, n):
        t[:, i] = np.maximum(t[:, i], t[:, i - 1] + 1)
    for i in range(n - 1, -1, -1):
        t[:, i] = np.minimum(t[:, i], top - (n - 1 - i))
    return t


class Thermometer(nn.Module):
    """T thresholds per input channel (or one shared row), strictly increasing in [1, 2^B-1]
    by construction: theta = 1 + (2^B - 2) * cumsum(softplus(u))[:T] / sum(softplus(u)) over
    T+1 gaps. Equal gaps (the init) give the uniform thermometer; `learned=False` freezes it.

    Forward: bit = x >= round(theta) (the exported integers, exactly); backward: a linear
    surrogate of width `ste_width` samples around each threshold.
    """

    def __init__(self, planes: int, bits: int = 8, channels: int = 1, shared: bool = True,
                 learned: bool = True, ste_width: float | None = None):
        super().__init__()
        self.planes, self.bits, self.channels, self.learned = planes, bits, channels, learned
        rows = 1 if shared else channels
        gaps = torch.zeros(rows, planes + 1)
        if learned:
            self.gaps = nn.Parameter(gaps)
        else:
            self.register_buffer("gaps", gaps)
        self.ste_width = float(ste_width or (1 << bits) / (planes + 1))

    @property
    def out_channels(self) -> int:
        return self.channels * self.planes

    def real_thresholds(self) -> torch.Tensor:
        d = F.softplus(self.gaps)
        frac = torch.cumsum(d, dim=1)[:, :-1] / d.sum(dim=1, keepdim=True)
        return 1 + ((1 << self.bits) - 2) * frac

    def thresholds(self) -> np.ndarray:
        """The exported integer thresholds (rows, T)."""
        return integer_thresholds(self.real_thresholds().detach().cpu().numpy(), self.bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = self.real_thresholds()
        exact = torch.as_tensor(self.thresholds(), dtype=theta.dtype, device=theta.device)
        theta = round_ste(theta) + (exact - torch.round(theta)).detach()  # == exact forward
        th = theta.expand(self.channels, -1)[None, :, :, None, None]       # 1, C, T, 1, 1
        diff = x[:, :, None] - th                                          # N, C, T, H, W
        hard = (diff >= 0).to(x.dtype)
        soft = torch.clamp(diff / self.ste_width + 0.5, 0, 1)
        bit = soft + (hard - soft).detach()
        n, c, t, h, w = bit.shape
        return (2 * bit - 1).reshape(n, c * t, h, w)


class Bitplanes(nn.Module):
    """Natural binary code of the sample: bit c*B + k = bit k of x_c (k = 0 the LSB)."""

    def __init__(self, bits: int = 8, channels: int = 1):
        super().__init__()
        self.bits, self.channels, self.planes = bits, channels, bits

    @property
    def out_channels(self) -> int:
        return self.channels * self.bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xi = x.to(torch.int64)
        k = torch.arange(self.bits, device=x.device)[None, None, :, None, None]
        bit = ((xi[:, :, None] >> k) & 1).to(x.dtype)
        n, c, b, h, w = bit.shape
        return (2 * bit - 1).reshape(n, c * b, h, w)


def make_encoder(kind: str, planes: int, bits: int, channels: int, shared: bool = True):
    """`glt` (learned thermometer), `uniform` (frozen thermometer) or `bitplanes`."""
    if kind == "glt":
        return Thermometer(planes, bits, channels, shared, learned=True)
    if kind == "uniform":
        return Thermometer(planes, bits, channels, shared, learned=False)
    if kind == "bitplanes":
        return Bitplanes(bits, channels)
    raise ValueError(f"unknown encoder {kind!r} (expected glt, uniform or bitplanes)")
