"""Training experiments of issue 5, reduced to fit a 2-core CPU: encodings (GLT vs uniform
thermometer vs bitplanes, both Fashion-MNIST variants and MNIST-5k, 3 seeds), block pruning
(0/50/75% with and without distillation), an SBNN sparsity sweep with the cost of the
integer (q, p) rounding, and the learned-threshold (tone curve) plot.

    .venv/bin/python bench/train_experiments.py [encodings] [prune] [sbnn] [report]

Each run lives in runs/exp/NAME and is skipped when its metrics.json exists (delete the
folder to rerun). `report` writes bench/results/training.json, bench/results/training.md
and docs/training-thresholds.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.train.config import make_config  # noqa: E402

RUNS = ROOT / "runs" / "exp"
RESULTS = ROOT / "bench" / "results"
SEEDS = (0, 1, 2)
# The small net of the sweeps (sized for a shared 2-core CPU): T=8 thermometer or 8
# bitplanes -> bconv 16 -> pool -> bconv 32 g2 -> pool -> bconv 64 g4 -> pool -> dense 10.
SMALL = [{"conv": 16}, {"pool": 2}, {"conv": 32, "groups": 2}, {"pool": 2},
         {"conv": 64, "groups": 4}, {"pool": 2}]
DATA = {"fashion-mnist": {"subset": 5000, "epochs": 3},
        "fashion-mnist-raw": {"subset": 5000, "epochs": 3},
        "mnist5k": {"subset": None, "epochs": 15, "flip": False}}   # digits are not mirrored
PRUNE = {"subset": 5000, "epochs": 4}


def _run(raw: dict) -> dict:
    from models.train.loop import run
    out = RUNS / raw["name"]
    done = out / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    cfg = make_config({**raw, "out": str(out)})
    cfg["check"]["golden_images"] = 1000  # golden cross-check on a part (speed)
    cfg["check"]["map_images"] = 64
    cfg["train"].update(threads=1, eval_each_epoch=False)
    return run(cfg, progress=True)


def encodings() -> None:
    for dataset, d in DATA.items():
        for seed in SEEDS:
            for enc in ("glt", "uniform", "bitplanes"):
                _run({"name": f"enc-{dataset}-{enc}-s{seed}", "dataset": dataset,
                      "seed": seed, "model": {"encoder": {"kind": enc, "planes": 8},
                                              "layers": SMALL},
                      "train": {"epochs": d["epochs"], "subset": d["subset"],
                                "flip": d.get("flip", True)}})


def prune() -> None:
    for kd in (False, True):
        for sparsity in (0.0, 0.5, 0.75):
            _run({"name": f"prune-{int(sparsity * 100)}-{'kd' if kd else 'nokd'}",
                  "model": {"encoder": {"kind": "glt", "planes": 8}, "layers": SMALL},
                  "train": {"epochs": PRUNE["epochs"], "subset": PRUNE["subset"]},
                  "distill": {"enabled": kd, "teacher_epochs": 3, "teacher_width": 32},
                  "prune": {"sparsity": sparsity, "block_channels": 1, "start_epoch": 1,
                            "end_epoch": 3}})


SBNN = {"sbnn-bipolar": None, "sbnn-free": (0.0, 0.0), "sbnn-ec30": (0.3, 2.0),
        "sbnn-ec10": (0.1, 2.0), "sbnn-ec05": (0.05, 2.0)}


def _sparse_layers(domain: str) -> list[dict]:
    return [dict(la, domain=domain) if "conv" in la else la for la in SMALL]


def sbnn() -> None:
    for name, setting in SBNN.items():
        domain = "bipolar" if setting is None else "sparse"
        ec, lam = setting or (0.05, 0.0)
        _run({"name": name, "model": {"encoder": {"kind": "glt", "planes": 8},
                                      "layers": _sparse_layers(domain)},
              "train": {"epochs": PRUNE["epochs"], "subset": PRUNE["subset"]},
              "sparse": {"ec": ec, "lambda": lam}})


def rounding_cost(name: str) -> dict:
    """Accuracy of one trained SBNN run with (q, p) rounded at several denominators
    (cached in the run folder)."""
    cache = RUNS / name / "rounding.json"
    if cache.exists():
        return json.loads(cache.read_text())
    import torch

    from models.train.data import load_split
    from models.train.loop import accuracy
    from models.train.network import BNN, logits_float
    state = torch.load(RUNS / name / "checkpoint.pt", weights_only=False)
    model = BNN(state["config"]["model"])
    model.load_state(state["model"])
    xt, yt = load_split("fashion-mnist", "test", None, 0)
    model.eval()
    out = {"real": accuracy(lambda b: logits_float(model, b), xt, yt)[0]}
    for qmax in (1, 2, 4, 8, 64):
        for conv in model.convs():
            conv.qmax = qmax
        model.train(False)
        out[f"qmax{qmax}"] = accuracy(model, xt, yt)[0]
    cache.write_text(json.dumps(out) + "\n")
    return out


def _mean_std(values: list[float]) -> str:
    a = 100 * np.array(values)
    return f"{a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0:.2f}"


def report() -> None:
    results: dict = {"encodings": {}, "prune": {}, "sbnn": {}, "shipped": {}}
    lines = ["### Shipped models (full training set, full 10k test set)", "",
             "| model | command | weights kept / total (Mbit) | test accuracy (%) | real-valued "
             "eval (%) | torch = golden (images, maps on) | train time |",
             "|---|---|---|---|---|---|---|"]
    # The shipped runs take hours: where their run folder is gone, the numbers come from the
    # last report (training.json) and the zoo check (bench/zoo_check.py, every test image).
    before = RESULTS / "training.json"
    before = json.loads(before.read_text()).get("shipped", {}) if before.exists() else {}
    zoo = RESULTS / "zoo_check.json"
    zoo = {r["model"]: r for r in json.loads(zoo.read_text())} if zoo.exists() else {}
    for name in ("fmnist-glt8", "fmnist-glt8-e3", "fmnist-glt8-p50", "fmnist-glt8-p75",
                 "fmnist-glt8-wide", "fmnist-glt8-wide-p50"):
        f = ROOT / "runs" / name / "metrics.json"
        if f.exists():
            m = json.loads(f.read_text())
        elif name in before:
            m = dict(before[name])
        elif name in zoo:
            z = zoo[name]
            desc = json.loads((ROOT / "models" / "zoo" / z["file"]).read_text())
            m = {"accuracy": z["golden_accuracy"],
                 "float_accuracy": desc["metadata"]["float_accuracy"],
                 "kept_mbit": z["kept_mbit"], "total_mbit": z["total_mbit"],
                 "golden_check": {"identical": z["torch_equals_golden"],
                                  "images": z["images"], "map_images": z["map_images"]},
                 "seconds": None}   # train time: kept only in the run folder
        else:
            continue
        results["shipped"][name] = {k: m[k] for k in (
            "accuracy", "float_accuracy", "kept_mbit", "total_mbit", "golden_check", "seconds")}
        g = m["golden_check"]
        lines.append(f"| {name} | `bnngen train models/train/configs/{name}.json` | "
                     f"{m['kept_mbit']:.4f} / {m['total_mbit']:.4f} | {100 * m['accuracy']:.2f} | "
                     f"{100 * m['float_accuracy']:.2f} | {'yes' if g['identical'] else 'NO'} "
                     f"({g['images']}, {g['map_images']}) | "
                     + (f"{m['seconds'] / 60:.0f} min |" if m["seconds"] else "— |"))
    lines += ["", "### Encodings (GLT vs uniform thermometer vs bitplanes, 8 input bit planes)", "",
             "Small net (encoder → bconv 16 → pool → bconv 32 g2 → pool → bconv 64 g4 → pool "
             "→ dense 10, 0.013 Mbit), no distillation, Adam + cosine; Fashion-MNIST variants: "
             f"{DATA['fashion-mnist']['subset']} training images, "
             f"{DATA['fashion-mnist']['epochs']} epochs; MNIST-5k: 4000 training images, "
             f"{DATA['mnist5k']['epochs']} epochs, no horizontal flip. Test accuracy (%) of the "
             "exported integer model on the full test split, mean ± std over seeds 0, 1, 2.", "",
             "| dataset | GLT (learned) | uniform thermometer | bitplanes | GLT wins? |",
             "|---|---|---|---|---|"]
    for dataset in DATA:
        row, means = [], {}
        for enc in ("glt", "uniform", "bitplanes"):
            accs = []
            for seed in SEEDS:
                f = RUNS / f"enc-{dataset}-{enc}-s{seed}" / "metrics.json"
                if f.exists():
                    accs.append(json.loads(f.read_text())["accuracy"])
            results["encodings"][f"{dataset}/{enc}"] = accs
            row.append(_mean_std(accs) + ("" if len(accs) == 3 else f" (n={len(accs)})")
                       if accs else "—")
            means[enc] = np.mean(accs) if accs else float("nan")
        best_other = max(means["uniform"], means["bitplanes"])
        verdict = ("yes" if means["glt"] > best_other else "no") if not np.isnan(
            means["glt"]) else "—"
        lines.append(f"| {dataset} | " + " | ".join(row) + f" | {verdict} |")
    lines += ["", "### Block pruning (blocks = one output channel's 3×3 kernel over one input "
              "channel; L1 importance; cubic schedule epochs 1→3, then fine-tuning)", "",
              f"Small GLT net, {PRUNE['subset']} training images, {PRUNE['epochs']} epochs, "
              "seed 0; the first layer is not pruned. KD: teacher = real CNN (width 32, 3 epochs "
              "on the same subset), T = 4, α = 0.7.", "",
              "| target sparsity | kept Mbit | accuracy, no KD (%) | accuracy, KD (%) |",
              "|---|---|---|---|"]
    for s in (0, 50, 75):
        cells, kept = [], "—"
        for kd in ("nokd", "kd"):
            f = RUNS / f"prune-{s}-{kd}" / "metrics.json"
            if f.exists():
                m = json.loads(f.read_text())
                results["prune"][f"{s}/{kd}"] = m["accuracy"]
                cells.append(f"{100 * m['accuracy']:.2f}")
                kept = f"{m['kept_mbit']:.4f}"
            else:
                cells.append("—")
        lines.append(f"| {s}% | {kept} | " + " | ".join(cells) + " |")
    lines += ["", "### SBNN sparse domain {α, β} (all hidden convolutions)", "",
              "Same net and budget as the pruning sweep, no KD. `ones` = fraction of β weights "
              "(kept connections when α = 0); accuracy of the real {α, β} model vs the exported "
              "integer (q, p) model with q ≤ qmax.", "",
              "| run | EC | λ | ones | α, β (layer 1) | real acc. | qmax=1 | qmax=2 | qmax=4 | "
              "qmax=8 | qmax=64 |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, setting in SBNN.items():
        f = RUNS / name / "metrics.json"
        if not f.exists() or setting is None:
            if f.exists():
                m = json.loads(f.read_text())
                lines.append(f"| {name} (bipolar reference) | — | — | — | — | "
                             f"{100 * m['float_accuracy']:.2f} | {100 * m['accuracy']:.2f} "
                             "| | | | |")
            continue
        m = json.loads(f.read_text())
        cost = rounding_cost(name)
        layers = m["sparse_layers"]
        ones = np.mean([v["ones"] for v in layers.values()])
        first = next(iter(layers.values()))
        results["sbnn"][name] = {"ones": ones, "layers": layers, "accuracy": cost}
        lines.append(f"| {name} | {setting[0]} | {setting[1]} | {ones:.3f} | "
                     f"{first['alpha']:.3f}, {first['beta']:.3f} | {100 * cost['real']:.2f} | "
                     + " | ".join(f"{100 * cost[f'qmax{q}']:.2f}" for q in (1, 2, 4, 8, 64))
                     + " |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "training.md").write_text("\n".join(lines) + "\n")
    plot_thresholds()
    print("\n".join(lines))


def plot_thresholds() -> None:
    """Learned thresholds against the uniform ones: the tone curve each network learned."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.5))
    x = np.arange(256)
    uniform = None
    default = json.loads((ROOT / "models" / "zoo" / "default.json").read_text())
    curves = [(f"{default['name']}, the default (Fashion-MNIST)",
               default["encoder"]["thresholds"][0])]
    for d in ("fashion-mnist", "fashion-mnist-raw"):
        f = RUNS / f"enc-{d}-glt-s0" / "metrics.json"
        if f.exists():
            curves.append((f"{d} seed 0", json.loads(f.read_text())["encoder_thresholds"][0]))
    for label, th in curves:
        th = np.array(th)
        ax.step(x, (x[:, None] >= th[None, :]).sum(1), where="post", label=label)
    u = RUNS / "enc-fashion-mnist-uniform-s0" / "metrics.json"
    if u.exists():
        uniform = np.array(json.loads(u.read_text())["encoder_thresholds"][0])
        ax.step(x, (x[:, None] >= uniform[None, :]).sum(1), where="post", color="gray",
                linestyle="--", label="uniform thermometer")
    ax.set_xlabel("8-bit input sample x")
    ax.set_ylabel("thermometer level (number of bits set)")
    ax.set_title("GLT tone curves: learned vs uniform thresholds (T = 8)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "training-thresholds.png", dpi=120)


if __name__ == "__main__":
    phases = sys.argv[1:] or ["encodings", "prune", "sbnn", "report"]
    for phase in phases:
        {"encodings": encodings, "prune": prune, "sbnn": sbnn, "report": report}[phase]()
