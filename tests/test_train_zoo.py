"""Every trained model shipped in models/zoo/: the golden model reproduces the accuracy its
metadata records (first 1000 test images, exactly), and torch rebuilt from the description
(checkpoint-free) agrees with the golden model bit for bit, intermediate maps included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import description as fmt
from models import golden
from models.datasets import load_dataset

ZOO = Path(__file__).resolve().parent.parent / "models" / "zoo"
TRAINED = sorted(p for p in ZOO.glob("*.json")
                 if fmt.load(p).metadata.get("trained_by") == "bnngen train")


@pytest.mark.parametrize("path", TRAINED, ids=[p.stem for p in TRAINED])
def test_zoo_accuracy_reproduces(path):
    desc = fmt.load(path)
    meta = desc.metadata
    images, labels = load_dataset(meta["dataset"], "test")
    n = min(1000, len(images))
    preds, _ = golden.predict(desc, images[:n])
    assert float((preds == labels[:n]).mean()) == pytest.approx(meta["accuracy_first_1000"],
                                                                abs=1e-6)
    kept, total = desc.weight_bits()
    assert (kept, total) == (meta["kept_weight_bits"], meta["weight_bits"])


@pytest.mark.parametrize("path", TRAINED, ids=[p.stem for p in TRAINED])
def test_zoo_torch_matches_golden(path):
    pytest.importorskip("torch")
    from models.train.check import check_against_golden
    desc = fmt.load(path)
    images, _ = load_dataset(desc.metadata["dataset"], "test")
    result = check_against_golden(desc, images[:200], map_images=50)
    assert result["identical"], result["first_difference"]


def test_default_is_the_best_trained_fashion_mnist_model():
    """default.json is the trained output of the config its metadata names (written there by
    that config's `zoo`, stored once), and no shipped Fashion-MNIST model records a higher
    accuracy."""
    default = fmt.load(ZOO / "default.json")
    meta = default.metadata
    assert meta.get("trained_by") == "bnngen train"
    assert default.input.shape == (28, 28, 1) and default.input.bits == 8
    config = json.loads((ZOO.parent / "train" / "configs" / f"{meta['config']}.json")
                        .read_text())
    assert config["zoo"] == "models/zoo/default.json"
    shipped = [fmt.load(p).metadata for p in TRAINED]
    best = max(m["accuracy"] for m in shipped if m["dataset"] == "fashion-mnist")
    assert meta["accuracy"] == best


def test_no_description_stored_twice():
    texts = [p.read_bytes() for p in ZOO.glob("*.json")]
    assert len(set(texts)) == len(texts)
