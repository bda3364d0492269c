"""Amaranth components of the streaming BNN accelerator (docs/planning.md describes the
folded and streamed engines). Every block is a `wiring.Component` with `stream.Signature`
ports and a `timing` (`Timing`: latency, initiation interval, stream widths)."""

from .encoder import Encoder
from .engine import ConvEngine, result_layout, score_width
from .network import ConvLayer, Network, PoolLayer
from .pool import BinaryMaxPool, WindowOr
from .popcount import PopcountTree
from .timing import Timing
from .window.generator import WindowGenerator
from .window.plan import WindowPlan, plan_window


__all__ = ["BinaryMaxPool", "ConvEngine", "ConvLayer", "Encoder", "Network", "PoolLayer",
           "PopcountTree", "Timing", "WindowGenerator", "WindowOr", "WindowPlan",
           "plan_window", "result_layout", "score_width"]
