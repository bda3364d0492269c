"""End-to-end runs of whole networks and their comparison with the golden model."""

from __future__ import annotations

import numpy as np

from models.golden import forward
from sim.harness import run_bench
from sim.vectors import (compare_words, from_npz, pack_result, pack_samples, result_fields,
                         stream_widths, to_npz, unpack_result)


def make_network(desc):
    from hw.network import Network
    return Network(desc)


def result_words(desc, scores: np.ndarray, predictions: np.ndarray) -> list[int]:
    """Golden results packed like m_axis_tdata (the class in its bytes, then each score
    sign-extended to whole bytes), widths from the description (sim.vectors), never cut."""
    cb, sb = result_fields(desc.layers[-1], whole_bytes=True)
    return [pack_result(cls, row, cb, sb) for cls, row in zip(predictions, scores)]


def simulate_network(name: str, descs: list, unit: int, simulator: str, images: np.ndarray,
                     *, gap: float = 0.3, stall: float = 0.4, seed: int = 5, opt: str = "-O0",
                     verilog=None, toplevel: str = "dut", quiet: bool = False,
                     pace: int = 0) -> dict:
    """Stream `images` through network `unit` of a bundle of `descs` (or through a built
    `verilog` top); return the bench's arrays plus decoded `classes` and `scores`.
    `pace` > 0: pixel p of frame f is offered from cycle f*pace + p*pace//(H*W) on."""
    desc = descs[unit]
    in_width, out_width = stream_widths(desc)
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
    """(class, scores) from an m_axis_tdata word, laid out from the description."""
    conv = desc.layers[-1]
    return unpack_result(word, conv.out_channels, *result_fields(conv, whole_bytes=True))


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
