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
    """Golden results packed like m_axis_tdata (class, then two's complement scores)."""
    from hw.engine import class_width, score_width
    conv = desc.layers[-1]
    cw, sw = class_width(conv.out_channels), score_width(conv)
    words = []
    for cls, row in zip(predictions, scores):
        word = int(cls)
        for o, s in enumerate(row):
            word |= (int(s) & ((1 << sw) - 1)) << (cw + o * sw)
        words.append(word)
    return words


def run_network(name: str, descs: list, unit: int, simulator: str, images: np.ndarray, *,
                gap: float = 0.3, stall: float = 0.4, seed: int = 5, opt: str = "-O0") -> dict:
    """Stream `images` through network `unit` of a bundle of `descs`; compare with golden."""
    desc = descs[unit]
    gold = forward(desc, images, keep_maps=False)
    expected = result_words(desc, gold.scores, gold.predictions)
    pixels = desc.input.height * desc.input.width
    from hw.network import port_widths
    in_width, out_width, _ = port_widths(desc)
    vec = {"inputs": to_npz(pack_samples(images, desc.input.bits), in_width),
           "count": len(images), "out_width": out_width, "frame_pixels": pixels,
           "seed": seed, "gap": gap, "stall": stall,
           "timeout": 40 * pixels * (len(images) + 2) + 5000}
    out = run_bench(name, [_key(d) for d in descs], lambda k: make_network(_lookup(descs, k)),
                    unit, "network_bench", simulator, vec, opt=opt)
    actual = from_npz(out["outputs"])
    compare_results(desc, expected, actual)
    if out["failed"]:
        raise AssertionError(f"{desc.name}: results matched but the cocotb bench failed")
    out["actual"] = actual
    return out


def compare_results(desc, expected: list[int], actual: list[int]) -> None:
    """Name the layer (the scores layer), the frame, the class and the values."""
    from hw.engine import class_width, score_width
    conv = desc.layers[-1]
    cw, sw = class_width(conv.out_channels), score_width(conv)

    def fields(word):
        scores = [(word >> (cw + o * sw)) & ((1 << sw) - 1) for o in range(conv.out_channels)]
        scores = [s - (1 << sw) if s >> (sw - 1) else s for s in scores]
        return word & ((1 << cw) - 1), scores

    for n, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            (ec, es), (ac, as_) = fields(e), fields(a)
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
