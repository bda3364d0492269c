"""The golden model on examples worked out by hand from the format's semantics
(docs/model-format.md): every expected value below is a small integer computed on paper."""

from __future__ import annotations

import numpy as np
import pytest

from models import golden
from models.description import (Activation, Bitplanes, Conv, Description, InputSpec, MaxPool,
                                Scores, Thermometer)


def conv(weights, *, mask=None, stride=(1, 1), padding=(0, 0), pad_bit=0, groups=1,
         domain="bipolar", q=1, p=0, act=None, scores=None, out_shape=(1, 1, 1)):
    w = np.asarray(weights, dtype=np.uint8)
    return Conv(name="c", out_channels=w.shape[0], kernel=w.shape[1:3], stride=stride,
                padding=padding, pad_bit=pad_bit, groups=groups, domain=domain, weights=w,
                mask=None if mask is None else np.asarray(mask, dtype=np.uint8), q=q, p=p,
                activation=act, scores=scores, out_shape=out_shape)


def bits(rows):
    """(H, W, C) nested lists -> (1, H, W, C) uint8."""
    return np.asarray(rows, dtype=np.uint8)[None]


def test_thermometer_encoding_per_channel_and_shared():
    x = np.array([[[[0, 9], [3, 3], [7, 2]]]])               # (1, 1, 3, 2)
    per = Thermometer(thresholds=np.array([[3, 7], [2, 9]]))
    assert golden.encode(x, per, 4)[0, 0].tolist() == [
        [0, 0, 1, 1], [1, 0, 1, 0], [1, 1, 1, 0]]           # x0>=3, x0>=7, x1>=2, x1>=9
    shared = Thermometer(thresholds=np.array([[3, 7]]))
    assert golden.encode(x, shared, 4)[0, 0].tolist() == [
        [0, 0, 1, 1], [1, 0, 1, 0], [1, 1, 0, 0]]
    assert golden.encode(x, shared, 4).dtype == np.uint8


def test_bitplanes_lsb_first():
    x = np.array([[[[6, 5]]]])
    assert golden.encode(x, Bitplanes(), 4)[0, 0, 0].tolist() == [0, 1, 1, 0, 1, 0, 1, 0]
    with pytest.raises(TypeError):
        golden.encode(x, object(), 4)


def test_bipolar_counts_agreements_over_kept_weights():
    layer = conv([[[[1], [0]], [[0], [1]]]])               # one 2x2x1 kernel
    a = bits([[[1], [1]], [[0], [1]]])
    assert golden.conv_sums(a, layer).tolist() == [[[[3]]]]   # agree, differ, agree, agree
    masked = conv([[[[1], [0]], [[0], [1]]]], mask=[[[[0], [1]], [[1], [1]]]])
    assert golden.conv_sums(a, masked).tolist() == [[[[2]]]]
    assert golden.conv_sums(a, conv([[[[0], [1]], [[1], [0]]]])).tolist() == [[[[1]]]]


def test_padding_reads_the_pad_bit():
    ones = np.ones((1, 3, 3, 1), dtype=np.uint8)
    for pad_bit, expected in ((1, 8), (0, 0)):             # 8 pad positions around a 0
        layer = conv(ones, padding=(1, 1), pad_bit=pad_bit)
        assert golden.conv_sums(bits([[[0]]]), layer).tolist() == [[[[expected]]]]
    wide = conv(np.ones((1, 1, 3, 1)), padding=(0, 1), pad_bit=1, out_shape=(1, 2, 1))
    assert golden.conv_sums(bits([[[0], [0]]]), wide).tolist() == [[[[1], [1]]]]


def test_stride_picks_every_other_window():
    layer = conv([[[[1], [1]]]], stride=(1, 2), out_shape=(1, 2, 1))
    a = bits([[[1], [0], [1], [1], [0]]])                   # windows [1,0] and [1,1]
    assert golden.conv_sums(a, layer).tolist() == [[[[1], [2]]]]
    tall = conv([[[[1]], [[1]]]], stride=(2, 1), out_shape=(2, 1, 1))
    a = bits([[[1]], [[1]], [[0]], [[1]], [[1]]])           # rows (1,1), (0,1)
    assert golden.conv_sums(a, tall).tolist() == [[[[2]], [[1]]]]


def test_groups_read_their_own_channels():
    layer = conv([[[[1]]], [[[0]]]], groups=2, out_shape=(1, 1, 2))
    assert golden.conv_sums(bits([[[1, 1]]]), layer).tolist() == [[[[1, 0]]]]
    assert golden.conv_sums(bits([[[1, 0]]]), layer).tolist() == [[[[1, 1]]]]
    assert golden.conv_sums(bits([[[0, 1]]]), layer).tolist() == [[[[0, 0]]]]
    # 4 outputs in 2 groups of 2: outputs 0,1 read channel 0, outputs 2,3 channel 1
    four = conv([[[[1]]], [[[0]]], [[[1]]], [[[0]]]], groups=2, out_shape=(1, 1, 4))
    assert golden.conv_sums(bits([[[1, 0]]]), four).tolist() == [[[[1, 0, 0, 1]]]]


def test_sparse_sums_q_and_p():
    a = bits([[[1, 1, 0, 1]]])
    w = [[[[1, 0, 1, 1]]]]                                  # P_and = 2, P_all = 3
    assert golden.conv_sums(a, conv(w, domain="sparse", q=2, p=1)).tolist() == [[[[7]]]]
    assert golden.conv_sums(a, conv(w, domain="sparse", q=3, p=-2)).tolist() == [[[[0]]]]
    assert golden.conv_sums(a, conv(w, domain="sparse", q=1, p=0)).tolist() == [[[[2]]]]
    two = conv([[[[1, 0]]], [[[0, 1]]]], domain="sparse", q=2, p=-1, groups=2,
               out_shape=(1, 1, 2))
    # group 0: input channels 0,1 -> P_and 1, P_all 2; group 1: channels 2,3 -> 0, 1
    assert golden.conv_sums(bits([[[1, 1, 1, 0]]]), two).tolist() == [[[[0, -1]]]]


def test_many_images_cross_chunks():
    """A 256x256 map is a whole chunk of im2col rows: each image is its own chunk."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, (3, 256, 256, 1)).astype(np.uint8)
    follow = conv([[[[1]]]], out_shape=(256, 256, 1))       # XNOR with 1: the bit
    assert np.array_equal(golden.conv_sums(a, follow), a.astype(np.int64))
    invert = conv([[[[0]]]], out_shape=(256, 256, 1))
    assert np.array_equal(golden.conv_sums(a, invert), 1 - a.astype(np.int64))
    small = rng.integers(0, 2, (5, 128, 200, 1)).astype(np.uint8)   # 2 images a chunk
    assert np.array_equal(golden.conv_sums(small, follow), small.astype(np.int64))


def test_activation_ge_or_le():
    act = Activation(thresholds=np.array([3, 3, 3, 3]), flip=np.array([0, 0, 1, 1]))
    s = np.array([2, 3, 3, 4])
    assert golden.activate(s, act).tolist() == [0, 1, 1, 0]
    assert golden.activate(np.array([4, 2, 2, 3]), act).tolist() == [1, 0, 1, 1]
    assert golden.activate(s, act).dtype == np.uint8


def test_maxpool_is_or_over_windows():
    pool = MaxPool(name="p", kernel=(2, 2), stride=(2, 2), out_shape=(1, 2, 1))
    a = bits([[[0], [0], [0], [0]], [[0], [1], [0], [0]]])
    assert golden.maxpool(a, pool).tolist() == [[[[1], [0]]]]
    over = MaxPool(name="p", kernel=(1, 2), stride=(1, 1), out_shape=(1, 3, 1))
    assert golden.maxpool(bits([[[0], [1], [0], [0]]]), over).tolist() == [[[[1], [1], [0]]]]


def test_layer_forward_returns_bits_or_scores_and_sums():
    a = bits([[[1, 1, 0]]])
    act = Activation(thresholds=np.array([2]), flip=np.array([0]))
    out, s = golden.layer_forward(a, conv([[[[1, 1, 1]]]], act=act))
    assert s.tolist() == [[[[2]]]] and out.tolist() == [[[[1]]]]
    sc = Scores(scale=np.array([3]), offset=np.array([-4]))
    out, s = golden.layer_forward(a, conv([[[[1, 1, 1]]]], scores=sc))
    assert s.tolist() == [[[[2]]]] and out.tolist() == [[[[2]]]]
    pool = MaxPool(name="p", kernel=(1, 2), stride=(1, 1), out_shape=(1, 1, 1))
    out, s = golden.layer_forward(bits([[[0], [1]]]), pool)
    assert s is None and out.tolist() == [[[[1]]]]


def test_sum_bound_and_scores_past_int64():
    bip = conv(np.ones((1, 2, 2, 1)))
    assert golden.sum_bound(bip) == 4
    sparse = conv(np.ones((1, 1, 3, 1)), domain="sparse", q=3, p=-2)
    assert golden.sum_bound(sparse) == 15                   # (3 + 2) * 3
    big = 1 << 62
    sc = Scores(scale=np.array([big, 1]), offset=np.array([5, -1]))
    layer = conv(np.ones((2, 1, 1, 3)), scores=sc, out_shape=(1, 1, 2))
    sums = np.array([[3, 2]])
    out = golden.scores(sums, layer)                         # bound 2^62 * 3 + 5 > 2^63
    assert out.dtype == object and out.tolist() == [[3 * big + 5, 1]]
    fits = Scores(scale=np.array([1 << 60, 1]), offset=np.array([5, -1]))
    out = golden.scores(sums, conv(np.ones((2, 1, 1, 3)), scores=fits, out_shape=(1, 1, 2)))
    assert out.dtype == np.int64 and out.tolist() == [[3 * (1 << 60) + 5, 1]]
    # |offset| counts toward the bound too: 2^61 * 3 + 2^62 > 2^63 with a scale of 2^61 / 1
    near = Scores(scale=np.array([1 << 61, 1]), offset=np.array([0, -(1 << 62)]))
    small = conv(np.ones((2, 1, 1, 3)), scores=near, out_shape=(1, 1, 2))
    assert golden.scores(sums, small).dtype == object
    low = Scores(scale=np.array([1, 1]), offset=np.array([0, -(1 << 62) + 1]))
    assert golden.scores(sums, conv(np.ones((2, 1, 1, 1)), scores=low,
                                    out_shape=(1, 1, 2))).dtype == np.int64


def test_argmax_lowest_index_on_ties():
    assert golden.argmax_lowest(np.array([[1, 3, 3], [5, 5, 5], [0, -1, 2]])).tolist() == [
        1, 0, 2]


def _tiny() -> Description:
    """1x2 input of 2-bit samples, thermometer (>=2), then a dense scores layer of 2 classes:
    class 0 counts agreements with (1, 0), class 1 with (0, 1)."""
    enc = Thermometer(thresholds=np.array([[2]]))
    sc = Scores(scale=np.array([1, 1]), offset=np.array([0, 0]))
    layer = conv([[[[1], [0]]], [[[0], [1]]]], scores=sc, out_shape=(1, 1, 2))
    return Description(name="tiny", input=InputSpec(1, 2, 1, 2), encoder=enc, layers=(layer,))


def test_forward_and_predict_on_a_tiny_network():
    desc = _tiny()
    images = np.array([[[3, 0]], [[0, 3]], [[3, 3]], [[1, 1]], [[2, 0]]])  # (N, H, W)
    r = golden.forward(desc, images)
    # bits (1,0) -> scores (2,0); (0,1) -> (0,2); (1,1) -> (1,1); (0,0) -> (1,1)
    assert r.scores.tolist() == [[2, 0], [0, 2], [1, 1], [1, 1], [2, 0]]
    assert r.sums.tolist() == r.scores.tolist()
    assert r.predictions.tolist() == [0, 1, 0, 0, 0]
    assert [m.shape for m in r.maps] == [(5, 1, 2, 1), (5, 1, 1, 2)]
    assert golden.forward(desc, images, keep_maps=False).maps == []
    preds, scores = golden.predict(desc, images, batch=2)
    assert preds.tolist() == [0, 1, 0, 0, 0] and scores.tolist() == r.scores.tolist()
    assert golden.forward(desc, images[:, :, :, None]).scores.tolist() == r.scores.tolist()


def test_forward_rejects_wrong_shapes_and_samples():
    desc = _tiny()
    with pytest.raises(ValueError, match="shape"):
        golden.forward(desc, np.zeros((1, 2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        golden.forward(desc, np.array([[[4, 0]]]))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        golden.forward(desc, np.array([[[-1, 0]]]))
    assert golden.forward(desc, np.array([[[3, 3]]])).predictions.tolist() == [0]
