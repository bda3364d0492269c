"""Binary layers with latent real weights, and their folding to the integers of a description.

`BinaryConv` is a (grouped) convolution whose weights are sign(latent) in the bipolar domain
(±1, optional block mask) or {alpha, beta} in the SBNN sparse domain, followed either by
batch norm + sign (a hidden layer) or by a positive scale + per-class bias (the scores layer).
`fold()` turns it into exactly the integers docs/model-format.md defines (weights bits, mask, q/p,
thresholds/flip or scale/offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .ste import sign_ste, weight_sign

BOUND = 1 << 40  # the description's threshold range: "always" / "never" thresholds


@dataclass
class Folded:
    """The integer form of one convolution (arrays in description layout)."""

    weights: np.ndarray            # (O, kh, kw, Cg) uint8
    mask: np.ndarray | None
    q: int = 1
    p: int = 0
    thresholds: np.ndarray | None = None
    flip: np.ndarray | None = None
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None


class BinaryConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel, stride=1, padding=0,
                 pad_bit: int = 0, groups: int = 1, domain: str = "bipolar",
                 scores: bool = False, score_resolution: int = 16, qmax: int = 8):
        super().__init__()

        def pair(v):
            return (v, v) if isinstance(v, int) else tuple(v)

        self.kernel, self.stride, self.padding = pair(kernel), pair(stride), pair(padding)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.pad_bit, self.groups, self.domain, self.is_scores = pad_bit, groups, domain, scores
        self.score_resolution, self.qmax = score_resolution, qmax
        if domain not in ("bipolar", "sparse"):
            raise ValueError(f"unknown domain {domain!r}")
        if scores and domain != "bipolar":
            raise ValueError("the scores layer is bipolar")
        shape = (out_channels, in_channels // groups, *self.kernel)
        w = torch.empty(shape)
        # Latent weights live in [-1, 1] (clipped after each step) but start small, so that
        # Adam steps of ~lr flip signs from the first epoch on.
        nn.init.uniform_(w, -0.05, 0.05)
        self.weight = nn.Parameter(w)
        self.register_buffer("mask", torch.ones(shape))
        if domain == "sparse":
            # SBNN: w = tau * sign(latent) + phi, so alpha = phi - tau, beta = phi + tau.
            self.tau = nn.Parameter(torch.tensor(0.5))
            self.phi = nn.Parameter(torch.tensor(0.5))
        if scores:
            # Logits of order 1 at init: a sum of K random ±1 products has std sqrt(K).
            fan_in = (in_channels // groups) * self.kernel[0] * self.kernel[1]
            self.log_scale = nn.Parameter(torch.tensor(-0.5 * math.log(fan_in)))
            self.bias = nn.Parameter(torch.zeros(out_channels))
        else:
            self.bn = nn.BatchNorm2d(out_channels)

    # ------------------------------------------------------------------ training

    @property
    def alpha_beta(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.phi - self.tau, self.phi + self.tau

    def ones_fraction(self) -> tuple[torch.Tensor, int]:
        """(number of beta weights as a differentiable sum, total weights) for the SBNN
        expected-connections penalty."""
        b01 = (weight_sign(self.weight) + 1) / 2
        return b01.sum(), b01.numel()

    def _pad(self, a: torch.Tensor, value: float) -> torch.Tensor:
        ph, pw = self.padding
        return F.pad(a, (pw, pw, ph, ph), value=value) if (ph or pw) else a

    def linear(self, a: torch.Tensor) -> torch.Tensor:
        """The real pre-activation y from ±1 inputs."""
        wb = weight_sign(self.weight)
        if self.domain == "bipolar":
            x = self._pad(a, 2.0 * self.pad_bit - 1)
            return F.conv2d(x, wb * self.mask, stride=self.stride, groups=self.groups)
        alpha, beta = self.alpha_beta
        x = self._pad((a + 1) / 2, float(self.pad_bit))
        w = alpha + (beta - alpha) * (wb + 1) / 2
        return F.conv2d(x, w, stride=self.stride, groups=self.groups)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        y = self.linear(a)
        if self.is_scores:
            return torch.exp(self.log_scale) * y.flatten(1) + self.bias
        return sign_ste(self.bn(y))

    def clip_(self) -> None:
        with torch.no_grad():
            self.weight.clamp_(-1, 1)

    # ------------------------------------------------------------------ export

    def _affine(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """y = d * s + e per output channel, and the integers (q, p) defining s."""
        kept = self.mask.detach().double().flatten(1).sum(1).numpy()
        if self.domain == "bipolar":  # y = sum of ±1 products over kept = 2 s - K
            return np.full(self.out_channels, 2.0), -kept, 1, 0
        alpha, beta = (float(v.detach()) for v in self.alpha_beta)
        width = beta - alpha
        if abs(width) < 1e-12:  # degenerate domain: y = alpha * P_all (q=1, p=1, no ANDs)
            return np.full(self.out_channels, alpha), np.zeros(self.out_channels), 1, 1
        r = Fraction(alpha / width).limit_denominator(self.qmax)
        q, p = r.denominator, r.numerator
        return np.full(self.out_channels, width / q), np.zeros(self.out_channels), q, p

    def fold(self) -> Folded:
        w = self.weight.detach().permute(0, 2, 3, 1).numpy()  # (O, kh, kw, Cg): HWC order
        bits = (w >= 0).astype(np.uint8)
        mask = self.mask.detach().permute(0, 2, 3, 1).numpy().astype(np.uint8)
        if self.domain == "sparse":
            mask = None
        elif mask.all():
            mask = None
        d, e, q, p = self._affine()
        if self.domain == "sparse" and abs(2 * float(self.tau.detach())) < 1e-12:
            bits = np.zeros_like(bits)  # degenerate domain: s = P_all alone
        out = Folded(weights=bits, mask=mask, q=q, p=p)
        if self.is_scores:
            res = self.score_resolution
            gamma = float(torch.exp(self.log_scale.detach()))
            bias = self.bias.detach().double().numpy()
            # score/gamma = 2 s - K + bias/gamma; times `res` and rounded.
            out.scale = np.full(self.out_channels, 2 * res, dtype=np.int64)
            out.offset = (np.rint(res * e) + np.rint(res * bias / gamma)).astype(np.int64)
            return out
        bn = self.bn
        g = bn.weight.detach().double().numpy()
        b = bn.bias.detach().double().numpy()
        mu = bn.running_mean.detach().double().numpy()
        sd = np.sqrt(bn.running_var.detach().double().numpy() + bn.eps)
        th = np.zeros(self.out_channels, dtype=np.int64)
        flip = np.zeros(self.out_channels, dtype=np.uint8)
        for o in range(self.out_channels):
            if g[o] == 0 or d[o] == 0:  # constant output: bias >= 0
                th[o], flip[o] = -BOUND, 0 if b[o] >= 0 else 1
                continue
            t = mu[o] - b[o] * sd[o] / g[o]    # z >= 0  <=>  y >= t (g > 0) or y <= t (g < 0)
            u = (t - e[o]) / d[o]              # the same boundary on the integer s
            if np.sign(g[o]) * np.sign(d[o]) > 0:
                th[o], flip[o] = np.clip(np.ceil(u), -BOUND, BOUND), 0
            else:
                th[o], flip[o] = np.clip(np.floor(u), -BOUND, BOUND), 1
        out.thresholds, out.flip = th, flip
        return out
