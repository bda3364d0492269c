"""Training and export: a tiny model trained for a few steps must export to a valid
description on which torch eval and the golden model agree bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import description as fmt  # noqa: E402
from models import golden  # noqa: E402
from models.train.check import check_against_golden  # noqa: E402
from models.train.config import make_config  # noqa: E402
from models.train.loop import run  # noqa: E402
from models.train.network import BNN, logits_float, to_input  # noqa: E402
from gen.cli.entry import main as cli_main  # noqa: E402


TINY_LAYERS = [{"conv": 8, "pad_bit": 1}, {"pool": 2}, {"conv": 16, "groups": 2},
               {"pool": 2}, {"conv": 16, "groups": 4, "padding": 0}, {"pool": 2}]


def tiny_config(tmp_path, name="tiny", encoder="glt", **over) -> dict:
    raw = {"name": name, "out": str(tmp_path / name),
           "model": {"encoder": {"kind": encoder, "planes": 4}, "layers": TINY_LAYERS},
           "train": {"epochs": 1, "subset": 256, "test_subset": 200, "batch": 64,
                     "threads": 1}}
    for key, value in over.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return make_config(raw)


def golden_agrees(desc: fmt.Description, model: BNN, images: np.ndarray) -> None:
    """Independent comparison: the golden model against the torch model's eval output."""
    model.eval()
    scores = model(to_input(images)).numpy().astype(np.int64)
    g = golden.forward(desc, images)
    np.testing.assert_array_equal(scores, g.scores)
    np.testing.assert_array_equal(scores.argmax(1), g.predictions)


@pytest.mark.parametrize("encoder", ["glt", "uniform", "bitplanes"])
def test_tiny_train_export_matches_golden(tmp_path, encoder):
    cfg = tiny_config(tmp_path, encoder=encoder)
    metrics = run(cfg, progress=False)
    assert metrics["golden_check"]["identical"]
    text = (tmp_path / "tiny" / "model.json").read_text()
    desc = fmt.loads(text)
    assert fmt.dumps(desc) == text  # round trip
    assert desc.metadata["encoding"] == encoder
    if encoder != "bitplanes":
        th = desc.encoder.thresholds
        assert np.all(np.diff(th, axis=1) > 0) and th.min() >= 1 and th.max() <= 255
    # The checkpoint rebuilds the same model, and its eval equals the golden model.
    state = torch.load(tmp_path / "tiny" / "checkpoint.pt", weights_only=False)
    model = BNN(cfg["model"])
    model.load_state(state["model"])
    from models.datasets import fashion_mnist
    images = fashion_mnist("test")[0][:64]
    golden_agrees(desc, model, images)


def test_pruned_sparse_distilled_via_cli(tmp_path):
    """Every option at once through `bnngen train`: KD, block pruning, SBNN domain."""
    layers = [{"conv": 8}, {"pool": 2}, {"conv": 16, "groups": 2}, {"pool": 2},
              {"conv": 16, "groups": 4, "domain": "sparse", "pad_bit": 1}, {"pool": 2}]
    cfg = {"name": "all", "model": {"encoder": {"kind": "glt", "planes": 4},
                                    "layers": layers},
           "train": {"epochs": 2, "subset": 256, "test_subset": 200, "batch": 64,
                     "threads": 1},
           "distill": {"enabled": True, "teacher_epochs": 1, "teacher_width": 4,
                       "teacher_checkpoint": str(tmp_path / "teacher.pt")},
           "prune": {"sparsity": 0.5, "block_channels": 2, "end_epoch": 1, "every": 1},
           "sparse": {"lambda": 1.0, "ec": 0.05}}
    path = tmp_path / "all.json"
    path.write_text(json.dumps(cfg))
    out = tmp_path / "run"
    zoo = tmp_path / "zoo.json"
    assert cli_main(["train", str(path), "--quiet", "--out", str(out), "--zoo", str(zoo)]) == 0
    desc = fmt.load(zoo)
    kept, total = desc.weight_bits()
    pruned = [la for la in desc.layers if isinstance(la, fmt.Conv) and la.mask is not None]
    assert pruned, "block pruning produced no mask"
    for layer in pruned:  # blocks: whole kernels over 2 consecutive channels of a group
        m = layer.mask.reshape(layer.out_channels, -1, layer.in_channels_per_group)
        assert np.all(m == m[:, :1]), "a pruned block is not a whole kernel slice"
        pairs = layer.mask[..., 0::2] == layer.mask[..., 1::2]
        assert pairs.all()
        assert abs(1 - layer.mask.mean() - 0.5) < 0.1
    assert kept < total
    sparse = [la for la in desc.layers if isinstance(la, fmt.Conv) and la.domain == "sparse"]
    assert len(sparse) == 1 and sparse[0].q >= 1
    from models.datasets import fashion_mnist
    result = check_against_golden(desc, fashion_mnist("test")[0][:100], map_images=100)
    assert result["identical"], result["first_difference"]


def test_cli_rejects_unknown_config_key(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "x", "trian": {}}))
    assert cli_main(["train", str(path)]) == 2
    assert "trian" in capsys.readouterr().err


def test_folding_matches_float_path():
    """Integer thresholds/flips (incl. negative and zero BN scales) decide exactly as batch
    norm + sign on the real pre-activation, for both weight domains."""
    torch.manual_seed(1)
    for domain in ("bipolar", "sparse"):
        spec = {"encoder": {"kind": "uniform", "planes": 6},
                "layers": [{"conv": 24, "domain": domain, "pad_bit": 1}], "qmax": 1 << 12}
        model = BNN(spec)
        conv = model.layers[0]
        with torch.no_grad():
            conv.bn.weight.copy_(torch.randn(24))
            conv.bn.weight[:3] = 0
            conv.bn.bias.copy_(torch.randn(24) * 3)
            conv.bn.running_mean.copy_(torch.randn(24) * 10 + (20 if domain == "sparse" else 0))
            conv.bn.running_var.copy_(torch.rand(24) * 30 + 1)
            if domain == "sparse":
                conv.tau.fill_(0.75)
                conv.phi.fill_(0.25)  # alpha = -0.5, beta = 1: p/q = -1/3 exactly
        model.eval()
        images = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 1), dtype=np.uint8)
        x = to_input(images)
        with torch.no_grad():
            real = conv(model.encoder(x)) > 0           # float path: sign(bn(y))
        bits = model._int(images, keep_maps=True).maps[1].bool()
        assert torch.equal(real, bits)


def test_float_eval_close_to_integer_eval(tmp_path):
    """The metrics' accuracies and float/integer agreement, recomputed here: integer
    predictions by the golden model on the exported description, float ones by the
    checkpoint's real-valued eval path, on the run's 200 test images (test_subset: a
    permutation seeded 0, in file order)."""
    cfg = tiny_config(tmp_path, name="agree")
    metrics = run(cfg, progress=False)
    from models.datasets import fashion_mnist
    images, labels = fashion_mnist("test")
    pick = np.sort(np.random.default_rng(0).permutation(len(images))[:200])
    images, labels = images[pick], labels[pick]
    desc = fmt.load(tmp_path / "agree" / "model.json")
    ints = golden.forward(desc, images, keep_maps=False).predictions
    model = BNN(cfg["model"])
    model.load_state(torch.load(tmp_path / "agree" / "checkpoint.pt",
                                weights_only=False)["model"])
    model.eval()
    with torch.no_grad():
        floats = logits_float(model, to_input(images)).argmax(1).numpy()
    assert metrics["test_images"] == 200
    assert metrics["accuracy"] == round(float((ints == labels).mean()), 6)
    assert metrics["float_accuracy"] == round(float((floats == labels).mean()), 6)
    agreement = round(float((ints == floats).mean()), 6)
    assert metrics["float_integer_agreement"] == agreement >= 0.95


def test_train_cli_options_and_resume(tmp_path, capsys):
    """`--epochs`, `--subset`, `--seed`, `--set` reach the run (its checkpoint's config, its
    metrics, the description's metadata); `--resume` continues from the checkpoint: the
    first epoch's record is kept as it was, one more epoch is trained; `--quiet` keeps
    stderr empty, without it the epochs are reported."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"name": "opts", "model": {
        "encoder": {"kind": "uniform", "planes": 2}, "layers": TINY_LAYERS},
        "train": {"epochs": 5, "subset": 1000, "test_subset": 300, "batch": 32,
                  "threads": 1}}))
    out = tmp_path / "run"
    common = ["train", str(path), "--quiet", "--out", str(out), "--subset", "64",
              "--seed", "3", "--set", "train.test_subset=50", "--set", "check.map_images=4"]
    assert cli_main([*common, "--epochs", "1"]) == 0
    printed = capsys.readouterr()
    assert "on 50 images" in printed.out and printed.err == ""      # --quiet: no progress
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert state["config"]["train"]["subset"] == 64 and state["config"]["seed"] == 3
    assert state["config"]["train"]["test_subset"] == 50
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_images"] == 50 and metrics["seed"] == 3
    state["history"][0]["marker"] = "from the checkpoint"     # only a resumed run has it
    torch.save(state, out / "checkpoint.pt")
    assert cli_main([*common[:2], *common[3:], "--epochs", "2", "--resume"]) == 0
    err = capsys.readouterr().err                   # without --quiet: the epoch's progress
    assert "opts 2/2" in err and "opts 1/2" not in err    # epoch 1 was not trained again
    resumed = torch.load(out / "checkpoint.pt", weights_only=False)
    assert resumed["epoch"] == 2 and resumed["history"][0] == state["history"][0]
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert fmt.load(out / "model.json").metadata["seed"] == 3


def test_warm_start_into_another_head(tmp_path):
    """`init` from a checkpoint of another architecture (here: without the last pool, so the
    dense layer sees 2x2 instead of 1x1 maps): the layers that match are copied exactly, the
    dense layer starts fresh and is named, and the run trains and exports as usual."""
    base = tiny_config(tmp_path, name="base")
    run(base, progress=False)
    ckpt = tmp_path / "base" / "checkpoint.pt"
    cfg = tiny_config(tmp_path, name="warm", init=str(ckpt),
                      model={"encoder": {"kind": "glt", "planes": 4},
                             "layers": TINY_LAYERS[:-1]})
    model = BNN(cfg["model"])
    state = torch.load(ckpt, weights_only=False)["model"]
    assert model.load_state(state, partial=True) == ["head"]
    for key, value in model.state_dict().items():
        if not key.startswith("head."):
            assert torch.equal(value, state[key]), key
    with pytest.raises(RuntimeError):  # a plain load still refuses the mismatch
        BNN(cfg["model"]).load_state(state)
    assert run(cfg, progress=False)["golden_check"]["identical"]
