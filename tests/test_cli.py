"""`bnngen validate`, `info` and `run` on real files and the real dataset."""

from __future__ import annotations

import numpy as np
import pytest

from gen.cli import main
from gen.info import layer_rows
from models import description as fmt
from models import factory
from models.datasets import fashion_mnist
from models.golden import forward

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


def test_run_reports_golden_accuracy(capsys):
    assert main(["run", DEFAULT, "--dataset", "fashion-mnist", "--limit", "200"]) == 0
    out = capsys.readouterr().out
    images, labels = fashion_mnist("test")
    desc = fmt.load(DEFAULT)
    acc = (forward(desc, images[:200]).predictions == labels[:200]).mean()
    assert f"golden accuracy {acc:.2%} on 200 fashion-mnist test images" in out
    assert "Ankle boot" in out


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
