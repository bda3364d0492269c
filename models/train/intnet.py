"""Torch evaluation of a description in integers: what the trained network computes in eval
mode. Built only from the description's integers, so it can also rebuild any shipped model
(checkpoint-free) and be compared bit for bit with the NumPy golden model.

Maps are float tensors holding bits {0, 1} in NCHW; every sum is an integer far below 2^24,
hence exact in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from models.description import Bitplanes, Conv, Description, Thermometer


@dataclass
class IntResult:
    predictions: torch.Tensor  # (N,) int64
    scores: torch.Tensor       # (N, classes) int64
    sums: torch.Tensor         # (N, classes) int64
    maps: list[torch.Tensor]   # bits (N, C, H, W) after the encoder and every layer


def _nchw_weights(bits: np.ndarray) -> torch.Tensor:
    """(O, kh, kw, Cg) description layout -> (O, Cg, kh, kw) float."""
    return torch.from_numpy(np.ascontiguousarray(bits.transpose(0, 3, 1, 2))).float()


class IntegerNet(nn.Module):
    def __init__(self, desc: Description):
        super().__init__()
        self.desc = desc
        enc = desc.encoder
        if isinstance(enc, Thermometer):
            th = torch.from_numpy(enc.channel_thresholds(desc.input.channels).copy()).float()
            self.register_buffer("thresholds", th)
        self.convs = []
        for layer in desc.layers:
            if isinstance(layer, Conv):
                entry = {"w": _nchw_weights(layer.weights), "m": _nchw_weights(layer.kept)}
                if layer.activation is not None:
                    entry["th"] = torch.from_numpy(layer.activation.thresholds)[:, None, None]
                    entry["flip"] = torch.from_numpy(layer.activation.flip.astype(bool))[
                        :, None, None]
                else:
                    entry["k"] = torch.from_numpy(layer.scores.scale)
                    entry["c"] = torch.from_numpy(layer.scores.offset)
                self.convs.append(entry)
            else:
                self.convs.append(None)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) integer samples (float) -> bits (N, C*P, H, W)."""
        if isinstance(self.desc.encoder, Bitplanes):
            k = torch.arange(self.desc.input.bits)[None, None, :, None, None]
            bits = (x.to(torch.int64)[:, :, None] >> k) & 1
        else:
            bits = x[:, :, None] >= self.thresholds[None, :, :, None, None]
        n, c, p, h, w = bits.shape
        return bits.reshape(n, c * p, h, w).float()

    @staticmethod
    def conv_sums(a: torch.Tensor, layer: Conv, entry: dict) -> torch.Tensor:
        """s_o of docs/model-format.md as int64 (N, O, Ho, Wo)."""
        ph, pw = layer.padding
        if ph or pw:
            a = F.pad(a, (pw, pw, ph, ph), value=float(layer.pad_bit))

        def conv(x, w):
            return F.conv2d(x, w, stride=layer.stride, groups=layer.groups)

        w, m = entry["w"], entry["m"]
        if layer.domain == "bipolar":
            # In ±1 form the kept products sum to agreements - disagreements = 2 s - K_o.
            y = conv(2 * a - 1, (2 * w - 1) * m)
            kept = m.flatten(1).sum(1)[None, :, None, None]
            return torch.round((y + kept) / 2).to(torch.int64)
        p_and = torch.round(conv(a, w)).to(torch.int64)
        p_all = torch.round(conv(a, torch.ones_like(w))).to(torch.int64)
        return layer.q * p_and + layer.p * p_all

    @torch.no_grad()
    def forward(self, images, keep_maps: bool = False) -> IntResult:
        """images: (N, H, W, C) or (N, H, W) unsigned samples (numpy or tensor)."""
        x = torch.as_tensor(np.asarray(images)).to(torch.float32)
        if x.ndim == 3:
            x = x[..., None]
        a = self.encode(x.permute(0, 3, 1, 2))
        maps = [a] if keep_maps else []
        for layer, entry in zip(self.desc.layers, self.convs):
            if entry is None:
                a = F.max_pool2d(a, layer.kernel, layer.stride)
            else:
                s = self.conv_sums(a, layer, entry)
                if "th" in entry:
                    a = torch.where(entry["flip"], s <= entry["th"], s >= entry["th"]).float()
                else:
                    sums = s.flatten(1)
                    a = entry["k"] * sums + entry["c"]
            if keep_maps:
                maps.append(a)
        scores = a.flatten(1).to(torch.int64)
        return IntResult(predictions=torch.argmax(scores, dim=1), scores=scores, sums=sums,
                         maps=maps)

    def predict(self, images, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        preds, scores = [], []
        for i in range(0, len(images), batch):
            r = self.forward(images[i:i + batch])
            preds.append(r.predictions.numpy())
            scores.append(r.scores.numpy())
        return np.concatenate(preds), np.concatenate(scores)
