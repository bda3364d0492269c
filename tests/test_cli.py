"""`bnngen validate`, `info` and `run` on real files and the real dataset."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from models import description as fmt
from models import factory
from models.datasets import FASHION_MNIST_CLASSES, fashion_mnist, load_dataset
from models.info import layer_rows
from models.naive import naive_predictions
from gen.cli.entry import main


DEFAULT = "models/zoo/default.json"


def test_validate_shipped_model(capsys):
    assert main(["validate", DEFAULT]) == 0
    assert "valid" in capsys.readouterr().out


def test_info_counts_weights_pruning_and_ops(tmp_path, capsys):
    desc = factory.random_description(11, convs=2, domain="bipolar")
    path = tmp_path / "m.json"
    fmt.save(desc, path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    for layer in desc.layers:
        assert layer.name in out
    rows = {r["name"]: r for r in layer_rows(desc)}
    for layer in desc.layers:
        if isinstance(layer, fmt.Conv):
            # Independent count: kept connections times output positions, 2 ops each.
            kept = sum(int(layer.mask[o].sum()) if layer.mask is not None else
                       layer.weights[o].size for o in range(layer.out_channels))
            positions = layer.out_shape[0] * layer.out_shape[1]
            assert rows[layer.name]["kept"] == kept
            assert rows[layer.name]["binops"] == 2 * kept * positions
    total = sum(layer.weights.size for layer in desc.layers if isinstance(layer, fmt.Conv))
    assert f"{total:,} weight bits" in out


def thresholds_on_the_sums(desc: fmt.Description, images: np.ndarray) -> fmt.Description:
    """The first layer's thresholds moved onto its most frequent sum over `images`: many
    sums then equal their threshold, where `>=` and `>` part (a model whose predictions
    depend on the comparison, as a trained model's do)."""
    from models.golden import conv_sums, encode
    conv = desc.layers[0]
    sums = conv_sums(encode(images, desc.encoder, desc.input.bits), conv)
    sums = sums.reshape(-1, conv.out_channels)
    mode = [int(np.bincount(col - col.min()).argmax() + col.min()) for col in sums.T]
    act = fmt.Activation(thresholds=np.array(mode, dtype=np.int64), flip=conv.activation.flip)
    return replace(desc, layers=(replace(conv, activation=act), *desc.layers[1:]))


@pytest.mark.parametrize("dataset,split", [("fashion-mnist", "test"),
                                           ("fashion-mnist", "train"),
                                           ("fashion-mnist-raw", "test")])
def test_run_reports_golden_accuracy(tmp_path, capsys, dataset, split):
    """Accuracy and per-class recall as the naive reference (models/naive.py) predicts them,
    on the first 20 images of the dataset's split: a golden model that compares with `>`
    instead of `>=` reports another accuracy here (5/20 against 3/20 on the test split)."""
    images, labels = load_dataset(dataset, split)
    images, labels = images[:20], labels[:20]
    desc = factory.random_description(1, height=28, width=28, channels=1, bits=8, convs=1,
                                      max_channels=4, pool=True)
    desc = thresholds_on_the_sums(desc, images)
    path = tmp_path / "m.json"
    fmt.save(desc, path)
    assert main(["run", str(path), "--dataset", dataset, "--split", split,
                 "--limit", "20"]) == 0
    out = capsys.readouterr().out
    preds = naive_predictions(desc, images)
    right = sum(int(p == y) for p, y in zip(preds, labels))
    assert f"golden accuracy {right / 20:.2%} on 20 {dataset} {split} images" in out
    for c in range(desc.num_classes):
        n = sum(int(y == c) for y in labels)
        hits = sum(int(y == c and p == c) for p, y in zip(preds, labels))
        recall = f"{hits / n:.1%}" if n else "nan%"
        name = FASHION_MNIST_CLASSES[c] if dataset == "fashion-mnist" else str(c)
        assert re.search(rf"^{re.escape(name)}\s+{n}\s+{re.escape(recall)}\s", out, re.M), (
            name, n, recall, out)


@pytest.mark.parametrize("argv,expected", [
    (["run", DEFAULT, "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["run", DEFAULT, "--limit", "0"], "--limit must be at least 1"),
])
def test_run_user_errors(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_run_rejects_a_model_of_another_shape(tmp_path, capsys):
    desc = factory.random_description(3, height=5, width=5)
    fmt.save(desc, tmp_path / "m.json")
    assert main(["run", str(tmp_path / "m.json"), "--limit", "5"]) == 2
    assert "the model expects [5, 5," in capsys.readouterr().err


def test_golden_full_test_set_shape():
    images, labels = fashion_mnist("test")
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
