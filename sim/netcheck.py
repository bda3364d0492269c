"""End-to-end runs of whole networks and their comparison with the golden model."""

from __future__ import annotations

import numpy as np

from models.golden import forward
from sim.harness import run_bench
from sim.vectors import compare_words, from_npz, pack_samples, to_npz


def make_network(desc):
    from hw.network import Network
    return Network(desc)


def result_words(desc, scores: np.ndarray, predictions: np.ndarray) -> list[int]:
    """Golden results packed like m_axis_tdata: the class in its bytes, then each score
    sign-extended to whole bytes (hw.network.result_bytes)."""
    from hw.network import result_bytes
    cb, sb = result_bytes(desc.layers[-1])
    words = []
    for cls, row in zip(predictions, scores):
        word = int(cls)
        for o, s in enumerate(row):
            word |= (int(s) & ((1 << 8 * sb) - 1)) << (8 * (cb + o * sb))
        words.append(word)
    return words


def simulate_network(name: str, descs: list, unit: int, simulator: str, images: np.ndarray,
                     *, gap: float = 0.3, stall: float = 0.4, seed: int = 5, opt: str = "-O0",
                     verilog=None, toplevel: str = "dut", quiet: bool = False,
                     pace: int = 0) -> dict:
    """Stream `images` through network `unit` of a bundle of `descs` (or through a built
    `verilog` top); return the bench's arrays plus decoded `classes` and `scores`.
    `pace` > 0: pixel p of frame f is offered from cycle f*pace + p*pace//(H*W) on."""
    from hw.network import port_widths
    desc = descs[unit]
    in_width, out_width = port_widths(desc)
    pixels = desc.input.height * desc.input.width
    vec = {"inputs": to_npz(pack_samples(images, desc.input.bits), in_width),
           "count": len(images), "out_width": out_width, "frame_pixels": pixels,
           "seed": seed, "gap": gap, "stall": stall, "pace": pace,
           "timeout": 40 * pixels * (len(images) + 2) + 5000}
    out = run_bench(name, [_key(d) for d in descs], lambda k: make_network(_lookup(descs, k)),
                    unit, "network_bench", simulator, vec, opt=opt, verilog=verilog,
                    toplevel=toplevel, quiet=quiet)
    out["actual"] = from_npz(out["outputs"])
    decoded = [decode(desc, w) for w in out["actual"]]
    out["classes"] = np.array([c for c, _ in decoded], dtype=np.int64)
    out["scores"] = np.array([s for _, s in decoded], dtype=np.int64).reshape(len(decoded), -1)
    return out


def run_network(name: str, descs: list, unit: int, simulator: str, images: np.ndarray,
                **kwargs) -> dict:
    """`simulate_network`, then a bit-exact comparison with the golden model."""
    desc = descs[unit]
    gold = forward(desc, images, keep_maps=False)
    expected = result_words(desc, gold.scores, gold.predictions)
    out = simulate_network(name, descs, unit, simulator, images, **kwargs)
    compare_results(desc, expected, out["actual"])
    if out["failed"]:
        raise AssertionError(f"{desc.name}: results matched but the cocotb bench failed")
    return out


def frame_latencies(desc, out: dict) -> list[int]:
    """Per frame: cycles from its last input transfer to its result (gen.build's
    LATENCY_DEFINITION), from a run's `in_cycles` and `out_cycles`."""
    pixels = desc.input.height * desc.input.width
    last = list(out["in_cycles"])[pixels - 1::pixels]
    return [int(o) - int(i) for o, i in zip(out["out_cycles"], last)]


def decode(desc, word: int) -> tuple[int, list[int]]:
    """(class, scores) from an m_axis_tdata word."""
    from hw.network import result_bytes
    conv = desc.layers[-1]
    cb, sb = result_bytes(conv)
    sw = 8 * sb
    scores = [(word >> (8 * (cb + o * sb))) & ((1 << sw) - 1) for o in range(conv.out_channels)]
    return word & ((1 << 8 * cb) - 1), [s - (1 << sw) if s >> (sw - 1) else s for s in scores]


def compare_results(desc, expected: list[int], actual: list[int]) -> None:
    """Name the layer (the scores layer), the frame, the class and the values."""
    conv = desc.layers[-1]
    for n, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            (ec, es), (ac, as_) = decode(desc, e), decode(desc, a)
            bad = next((o for o in range(len(es)) if es[o] != as_[o]), None)
            what = (f"score of class {bad}: expected {es[bad]}, actual {as_[bad]}"
                    if bad is not None else f"class: expected {ec}, actual {ac}")
            raise AssertionError(f"{desc.name}: layer {conv.name}, pixel (frame {n}, y 0, x 0), "
                                 f"channel {bad if bad is not None else 'class'}: {what}")
    compare_words(f"{desc.name} ({conv.name})", expected, actual, (len(expected), 1, 1))


def _key(desc) -> str:
    from models.description import dumps
    return dumps(desc)


def _lookup(descs, key):
    return next(d for d in descs if _key(d) == key)
