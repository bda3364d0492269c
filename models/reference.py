"""FINN's reference topologies (Umuroglu et al., FPGA 2017; finn-examples) as descriptions
with seeded random weights, for comparing bnngen's hardware with FINN's on the same networks.

- SFC (784-256-256-256-10) and LFC (784-1024-1024-1024-10): a binarized 28x28 image as one
  1x1x784 input pixel (`bitplanes` of 1-bit samples), fully connected binary layers.
- CNV-W1A1: 32x32x3 8-bit input (`bitplanes`: the 8 bits of each sample, as FINN's first
  layer reads them), 3x3 valid convolutions 64, 64, pool, 128, 128, pool, 256, 256, then
  dense 512, 512, 10.

Weights are uniform random bits, thresholds near the middle of each sum's range; no
pruning, so the hardware is as large as FINN's for the same topology.
"""

from __future__ import annotations

import numpy as np

from .description import Bitplanes, Description, InputSpec, MaxPool, conv_out_hw, encoded_shape
from .factory import random_conv


def _stack(name: str, inp: InputSpec, plan: list, seed: int) -> Description:
    """`plan`: ("conv", out_channels, kernel) | ("pool",) | ("dense", out_channels) |
    ("scores", classes)."""
    rng = np.random.default_rng(seed)
    enc = Bitplanes()
    shape = encoded_shape(inp, enc)
    layers: list = []
    for step in plan:
        kind = step[0]
        n = sum(1 for layer in layers if not isinstance(layer, MaxPool))
        if kind == "pool":
            ho, wo = conv_out_hw(shape[0], shape[1], (2, 2), (2, 2), (0, 0))
            layers.append(MaxPool(name=f"pool{len(layers) - n}", kernel=(2, 2),
                                  stride=(2, 2), out_shape=(ho, wo, shape[2])))
        else:
            dense = kind in ("dense", "scores")
            layer_name = f"fc{n}" if dense else f"conv{n}"
            k = step[2] if kind == "conv" else None
            layers.append(random_conv(rng, layer_name, shape, out_channels=step[1],
                                      kernel=(k, k) if k else None, stride=(1, 1),
                                      padding=(0, 0), pad_bit=0, groups=1, domain="bipolar",
                                      prune=0.0, scores=kind == "scores", dense=dense))
        shape = layers[-1].out_shape
    return Description(name=name, input=inp, encoder=enc, layers=tuple(layers),
                       metadata={"reference": name, "seed": seed})


def sfc(seed: int = 0) -> Description:
    return _stack("finn-sfc", InputSpec(1, 1, 784, 1),
                  [("dense", 256), ("dense", 256), ("dense", 256), ("scores", 10)], seed)


def lfc(seed: int = 0) -> Description:
    return _stack("finn-lfc", InputSpec(1, 1, 784, 1),
                  [("dense", 1024), ("dense", 1024), ("dense", 1024), ("scores", 10)], seed)


def cnv(seed: int = 0) -> Description:
    return _stack("finn-cnv-w1a1", InputSpec(32, 32, 3, 8),
                  [("conv", 64, 3), ("conv", 64, 3), ("pool",), ("conv", 128, 3),
                   ("conv", 128, 3), ("pool",), ("conv", 256, 3), ("conv", 256, 3),
                   ("dense", 512), ("dense", 512), ("scores", 10)], seed)


REFERENCES = {"sfc": sfc, "lfc": lfc, "cnv": cnv}
