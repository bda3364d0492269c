"""The golden model against a deliberately naive reference written from the format's
semantics (docs/model-format.md).

The reference (models/naive.py) walks every output element with explicit index arithmetic
(no im2col, no np.pad, no matrix products) so that it shares no code path with
models/golden.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from models import factory, golden
from models.description import (Activation, Bitplanes, Conv, Description, InputSpec, MaxPool,
                                Scores, Thermometer, from_dict, to_dict)
from models.naive import naive_forward

N_DESCRIPTIONS = 320


def assert_matches_naive(desc: Description, images):
    result = golden.forward(desc, images)
    for n, image in enumerate(images):
        maps, scores, best = naive_forward(desc, image)
        for k, (want, got) in enumerate(zip(maps, result.maps)):
            where = "encoder" if k == 0 else desc.layers[k - 1].name
            np.testing.assert_array_equal(got[n], want, err_msg=f"{desc.name} image {n} {where}")
        np.testing.assert_array_equal(result.scores[n], scores)
        assert result.predictions[n] == best


# ---------------------------------------------------------------- over the factory

@pytest.mark.parametrize("chunk", range(8))
def test_factory_descriptions_match_naive(chunk):
    per_chunk = N_DESCRIPTIONS // 8
    for seed in range(chunk * per_chunk, (chunk + 1) * per_chunk):
        desc = factory.random_description(seed)
        assert_matches_naive(desc, factory.random_images(desc, 3, seed))


def test_factory_covers_the_space():
    """The descriptions above together use every layer kind and option."""
    seen = set()
    for seed in range(N_DESCRIPTIONS):
        desc = factory.random_description(seed)
        seen.add(type(desc.encoder).__name__)
        if isinstance(desc.encoder, Thermometer):
            seen.add("shared" if len(desc.encoder.thresholds) == 1 else "per-channel")
            top = (1 << desc.input.bits) - 1
            if desc.encoder.thresholds.min() == 1 and desc.encoder.thresholds.max() == top:
                seen.add("thresholds-at-range-ends")
        for layer, (_, _, c) in zip(desc.layers, desc.layer_inputs()):
            seen.add(layer.kind)
            if isinstance(layer, MaxPool):
                continue
            seen.add(layer.domain)
            seen.add(f"pad_bit{layer.pad_bit}" if any(layer.padding) else "no-padding")
            seen.add(f"stride{layer.stride[0]}")
            if layer.groups > 1:
                seen.add("groups")
            if layer.groups == c == layer.out_channels and c > 1:
                seen.add("depthwise")
            if layer.mask is not None:
                seen.add("pruned-blocks")
                if (layer.mask.reshape(layer.out_channels, -1).sum(1) == 0).any():
                    seen.add("all-pruned-channel")
            if layer.domain == "sparse" and layer.p < 0:
                seen.add("sparse-negative-p")
            if layer.activation is not None and layer.activation.flip.any():
                seen.add("flip")
            if layer.scores is not None:
                seen.add("scores")
    expected = {"Thermometer", "Bitplanes", "shared", "per-channel", "thresholds-at-range-ends",
                "conv", "maxpool", "bipolar", "sparse", "pad_bit0", "pad_bit1", "no-padding",
                "stride1", "stride2", "groups", "depthwise", "pruned-blocks", "all-pruned-channel",
                "sparse-negative-p", "flip", "scores"}
    assert expected <= seen, expected - seen


# ---------------------------------------------------------------- named edge cases

def _net(encoder, bits, layers, shape=(5, 5, 1)):
    inp = InputSpec(*shape, bits)
    # Through the validator, so a test cannot build an inconsistent network.
    return from_dict(to_dict(Description("edge", inp, encoder, tuple(layers))))


def _dense_scores(rng, in_shape, classes=3):
    return factory.random_conv(rng, "classifier", in_shape, out_channels=classes, scores=True,
                               dense=True, domain="bipolar", prune=0.0)


def test_thermometer_values_on_thresholds_and_range_ends():
    enc = Thermometer(np.array([[1, 7, 200, 255]]))
    rng = np.random.default_rng(0)
    desc = _net(enc, 8, [_dense_scores(rng, (5, 5, 4))])
    images = np.array([0, 1, 6, 7, 199, 200, 254, 255, 3, 100] * 10, dtype=np.uint8)
    images = images[:75].reshape(3, 5, 5, 1)
    bits = golden.encode(images, enc, 8)
    assert bits[0, 0, 0].tolist() == [0, 0, 0, 0]     # 0 below every threshold
    assert bits[0, 0, 1].tolist() == [1, 0, 0, 0]     # 1 == lowest threshold
    assert bits[0, 1, 2].tolist() == [1, 1, 1, 1]     # 255 == highest threshold
    assert_matches_naive(desc, images)


def test_bitplanes_lsb_first_per_channel():
    x = np.array([[[[5, 2]]]], dtype=np.uint8)  # one pixel, two channels, 3 bits
    bits = golden.encode(x, Bitplanes(), 3)
    assert bits[0, 0, 0].tolist() == [1, 0, 1, 0, 1, 0]


def test_all_pruned_channel_is_constant():
    rng = np.random.default_rng(1)
    conv = factory.random_conv(rng, "c", (5, 5, 2), out_channels=4, kernel=(3, 3), stride=(1, 1),
                               padding=(1, 1), pad_bit=1, groups=1, domain="bipolar", prune=0.0)
    mask = np.ones_like(conv.weights)
    mask[2] = 0
    act = Activation(np.array([1, 1, 0, 1]), np.array([0, 0, 0, 0], dtype=np.uint8))
    conv = Conv(**{**conv.__dict__, "mask": mask, "activation": act})
    desc = _net(Thermometer(np.array([[100]], dtype=np.int64)), 8,
                [Conv(**{**conv.__dict__, "name": "c"}),
                 _dense_scores(rng, (5, 5, 4))], shape=(5, 5, 2))
    images = factory.random_images(desc, 4, 1)
    result = golden.forward(desc, images)
    assert (result.maps[1][..., 2] == 1).all()   # s = 0 >= 0 everywhere
    assert_matches_naive(desc, images)


def test_depthwise_stride2_padding_pad_bit1_flip():
    rng = np.random.default_rng(2)
    conv = factory.random_conv(rng, "dw", (7, 6, 4), out_channels=4, kernel=(3, 3), stride=(2, 2),
                               padding=(1, 1), pad_bit=1, groups=4, domain="bipolar", prune=0.5)
    conv = Conv(**{**conv.__dict__,
                   "activation": Activation(conv.activation.thresholds, np.ones(4, np.uint8))})
    desc = _net(Bitplanes(), 1, [conv, _dense_scores(rng, conv.out_shape)], shape=(7, 6, 4))
    assert_matches_naive(desc, factory.random_images(desc, 4, 2))


def test_sparse_domain_negative_p_and_zero_one_domain():
    rng = np.random.default_rng(3)
    for p in (-2, 0, 3):
        conv = factory.random_conv(rng, "sp", (6, 6, 3), out_channels=6, kernel=(3, 3),
                                   stride=(1, 1), padding=(1, 1), pad_bit=0, groups=3,
                                   domain="sparse")
        conv = Conv(**{**conv.__dict__, "p": p, "q": 2})
        desc = _net(Bitplanes(), 1, [conv, _dense_scores(rng, conv.out_shape)], shape=(6, 6, 3))
        assert_matches_naive(desc, factory.random_images(desc, 3, p + 10))


def test_threshold_beyond_range_gives_constant_and_argmax_ties_pick_lowest():
    rng = np.random.default_rng(4)
    conv = factory.random_conv(rng, "c", (4, 4, 1), out_channels=2, kernel=(1, 1), stride=(1, 1),
                               padding=(0, 0), groups=1, domain="bipolar", prune=0.0)
    conv = Conv(**{**conv.__dict__,
                   "activation": Activation(np.array([2, -1]), np.array([0, 1], np.uint8))})
    cls = _dense_scores(rng, (4, 4, 2), classes=4)
    # identical weights and scores for every class: every score ties
    cls = Conv(**{**cls.__dict__, "weights": np.repeat(cls.weights[:1], 4, axis=0),
                  "scores": Scores(np.ones(4, np.int64), np.zeros(4, np.int64))})
    desc = _net(Thermometer(np.array([[3]], dtype=np.int64)), 2, [conv, cls], shape=(4, 4, 1))
    images = factory.random_images(desc, 3, 4)
    result = golden.forward(desc, images)
    assert (result.maps[1] == 0).all()            # s <= 1 < 2, and s >= 0 > -1
    assert (result.predictions == 0).all()
    assert_matches_naive(desc, images)


def test_maxpool_overlapping_and_non_square():
    rng = np.random.default_rng(5)
    conv = factory.random_conv(rng, "c", (7, 5, 2), out_channels=3, kernel=(1, 1), stride=(1, 1),
                               padding=(0, 0), domain="bipolar")
    pool = MaxPool("pool", (3, 2), (1, 2), (5, 2, 3))
    desc = _net(Bitplanes(), 1, [conv, pool, _dense_scores(rng, (5, 2, 3))], shape=(7, 5, 2))
    assert_matches_naive(desc, factory.random_images(desc, 4, 5))


def test_predict_matches_forward_in_batches():
    desc = factory.random_description(7)
    images = factory.random_images(desc, 37, 7)
    preds, scores = golden.predict(desc, images, batch=8)
    result = golden.forward(desc, images)
    np.testing.assert_array_equal(preds, result.predictions)
    np.testing.assert_array_equal(scores, result.scores)


def test_forward_rejects_wrong_shape_and_range():
    desc = factory.random_description(8, bits=4)
    with pytest.raises(ValueError, match="shape"):
        golden.forward(desc, np.zeros((1, 99, 99, 1), np.uint8))
    x = np.full((1, *desc.input.shape), 16, np.uint8)
    with pytest.raises(ValueError, match="range|lie in"):
        golden.forward(desc, x)


# ---------------------------------------------------------------- the validator's extremes

Q_MAX, SCALE_MAX, OFFSET_MAX = 1 << 20, 1 << 20, 1 << 40


def _dense(name, in_shape, out, rng, *, domain="sparse", q=1, p=0, scores=None,
           activation=None, density=0.5):
    h, w, c = in_shape
    weights = (rng.random((out, h, w, c)) < density).astype(np.uint8)
    return Conv(name=name, out_channels=out, kernel=(h, w), stride=(1, 1), padding=(0, 0),
                pad_bit=0, groups=1, domain=domain, weights=weights,
                q=q if domain == "sparse" else 1, p=p if domain == "sparse" else 0,
                scores=scores, activation=activation, out_shape=(1, 1, out))


def _python_sums(bits: np.ndarray, layer: Conv) -> list[int]:
    """s_o of a dense layer with plain Python integers (counts by np.count_nonzero)."""
    a = bits.reshape(-1).astype(bool)
    out = []
    for o in range(layer.out_channels):
        w = layer.weights[o].reshape(-1).astype(bool)
        if layer.domain == "bipolar":
            kept = layer.kept[o].reshape(-1).astype(bool)
            out.append(int(np.count_nonzero(kept & (a == w))))
        else:
            out.append(int(layer.q) * int(np.count_nonzero(a & w))
                       + int(layer.p) * int(np.count_nonzero(a)))
    return out


def _python_scores(bits, layer) -> list[int]:
    return [int(k) * s + int(c) for k, s, c in
            zip(layer.scores.scale, _python_sums(bits, layer), layer.scores.offset)]


def test_issue_example_sparse_sum_is_exact():
    """q = 2^20 - 1 with 17 of 32 bits matching: 17,825,775, not float32's 17,825,776."""
    inp = InputSpec(1, 1, 2, 16)
    weights = np.zeros((2, 1, 1, 32), dtype=np.uint8)
    weights[:, 0, 0, :17] = 1
    hidden = Conv(name="h", out_channels=2, kernel=(1, 1), stride=(1, 1), padding=(0, 0),
                  pad_bit=0, groups=1, domain="sparse", weights=weights, q=Q_MAX - 1, p=0,
                  activation=Activation(np.array([17 * (Q_MAX - 1), 17 * (Q_MAX - 1) + 1]),
                                        np.zeros(2, dtype=np.uint8)), out_shape=(1, 1, 2))
    top = Conv(name="c", out_channels=2, kernel=(1, 1), stride=(1, 1), padding=(0, 0),
               pad_bit=0, groups=1, domain="bipolar",
               weights=np.array([[[[1, 0]]], [[[0, 1]]]], dtype=np.uint8),
               scores=Scores(np.ones(2, dtype=np.int64), np.zeros(2, dtype=np.int64)),
               out_shape=(1, 1, 2))
    desc = from_dict(to_dict(Description("x", inp, Bitplanes(), (hidden, top))))
    r = golden.forward(desc, np.full((1, 1, 1, 2), 0xFFFF, dtype=np.int64))
    assert r.maps[1][0, 0, 0].tolist() == [1, 0]      # s = 17,825,775 exactly
    assert int(r.predictions[0]) == 0


@pytest.mark.parametrize("q,p", [(Q_MAX, Q_MAX), (Q_MAX, -Q_MAX), (Q_MAX - 1, 1), (1, -Q_MAX)])
def test_scores_at_the_extremes_are_exact(q, p):
    """q, p, scale and offsets at the validator's bounds: k*s + c beyond int64, exact."""
    rng = np.random.default_rng(q ^ (p & 0xFFFF))
    in_shape = (4, 4, 64)                  # 1024 input bits: s up to 2^31
    scale = np.array([SCALE_MAX, SCALE_MAX, SCALE_MAX - 1, 1], dtype=np.int64)
    offset = np.array([OFFSET_MAX, -OFFSET_MAX, 0, OFFSET_MAX - 1], dtype=np.int64)
    layer = _dense("c", in_shape, 4, rng, q=q, p=p, scores=Scores(scale, offset), density=0.9)
    desc = from_dict(to_dict(Description("x", InputSpec(4, 4, 4, 16), Bitplanes(), (layer,))))
    images = rng.integers(0, 1 << 16, size=(6, 4, 4, 4))
    images[0] = (1 << 16) - 1                          # every bit set
    r = golden.forward(desc, images)
    for n in range(len(images)):
        want = _python_scores(r.maps[0][n], desc.layers[0])
        assert [int(v) for v in r.scores[n]] == want
        assert int(r.predictions[n]) == max(range(4), key=lambda o: (want[o], -o))


def test_wide_receptive_field_counts_are_exact():
    """K = 2^24 + 2^22 bits per output (float64 counts), q, p ~ 2^20: k*s + c past int64."""
    rng = np.random.default_rng(5)
    in_shape = (160, 128, 1024)            # bitplanes 16 of 64 channels = 1024 bits
    weights = (rng.random((2,) + in_shape) < 0.5).astype(np.uint8)
    k = weights[0].size
    assert k > 1 << 24
    layer = Conv(name="c", out_channels=2, kernel=in_shape[:2], stride=(1, 1), padding=(0, 0),
                 pad_bit=0, groups=1, domain="sparse", weights=weights, q=Q_MAX - 1, p=Q_MAX,
                 scores=Scores(np.array([SCALE_MAX, SCALE_MAX - 1]),
                               np.array([-OFFSET_MAX, OFFSET_MAX])), out_shape=(1, 1, 2))
    desc = Description("x", InputSpec(160, 128, 64, 16), Bitplanes(), (layer,))
    images = rng.integers(0, 1 << 16, size=(1, 160, 128, 64))
    r = golden.forward(desc, images)
    assert [int(v) for v in r.scores[0]] == _python_scores(r.maps[0][0], layer)
