"""The training run behind `bnngen train CONFIG`: teacher (if distilling), student with the
STE path, gradual block pruning, SBNN penalty, per-epoch integer evaluation and checkpoints,
then export, golden-model check and metrics.

Outputs in the run folder (`out`): checkpoint.pt (every epoch, atomic), model.json (the
description), metrics.json. With `zoo` set the description is also written there.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import description as fmt
from models.errors import UserError

from .check import check_against_golden
from .data import augment, load_split
from .distill import Teacher, kd_loss
from .network import BNN, logits_float
from .prune import Pruner


def _atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_text(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@torch.no_grad()
def accuracy(fn, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> tuple[float, torch.Tensor]:
    preds = torch.cat([fn(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return float((preds == y).float().mean()), preds


def _batches(n: int, batch: int, gen: torch.Generator):
    order = torch.randperm(n, generator=gen)
    for i in range(0, n - batch + 1 if n >= batch else 1, batch):
        yield order[i:i + batch]


def train_teacher(cfg: dict, x, y, xt, yt, progress: bool) -> Teacher:
    d, m = cfg["distill"], cfg["model"]
    path = Path(d["teacher_checkpoint"] or
                f"runs/teacher-{cfg['dataset']}-w{d['teacher_width']}-e{d['teacher_epochs']}"
                f"-n{len(x)}-s{cfg['seed']}.pt")
    teacher = Teacher(m["input"]["channels"], m["classes"], d["teacher_width"],
                      m["input"]["bits"], m["input"]["height"])
    if path.exists():
        teacher.load_state_dict(torch.load(path, weights_only=True))
        return teacher.eval()
    gen = torch.Generator().manual_seed(cfg["seed"] + 7)
    epochs, batch = d["teacher_epochs"], cfg["train"]["batch"]
    opt = torch.optim.Adam(teacher.parameters(), 2e-3)
    steps = epochs * max(1, len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=steps)
    for epoch in range(epochs):
        teacher.train()
        bar = tqdm(list(_batches(len(x), batch, gen)), desc=f"teacher {epoch + 1}/{epochs}",
                   disable=not progress, leave=False)
        for idx in bar:
            xb = (augment(x[idx], gen, flip=cfg["train"]["flip"]) if cfg["train"]["augment"]
                  else x[idx])
            loss = F.cross_entropy(teacher(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    teacher.eval()
    acc, _ = accuracy(teacher, xt, yt)
    if progress:
        tqdm.write(f"teacher test accuracy {acc:.4f}")
    _atomic_torch_save(teacher.state_dict(), path)
    return teacher


def _sparse_penalty(model: BNN, cfg: dict) -> torch.Tensor | None:
    sparse = [c for c in model.convs() if c.domain == "sparse"]
    if not sparse or cfg["sparse"]["lambda"] <= 0:
        return None
    ones = sum(c.ones_fraction()[0] for c in sparse)
    total = sum(c.ones_fraction()[1] for c in sparse)
    return cfg["sparse"]["lambda"] * F.relu(ones / total - cfg["sparse"]["ec"])


def run(cfg: dict, progress: bool = True, resume: bool = False) -> dict:
    """Train, export and check one configuration; returns its metrics."""
    # Denormal Adam states slow CPU training down ~10x; flushing them is process-wide
    # floating-point state, so it is undone on the way out (an in-process caller's own
    # arithmetic, hypothesis's subnormal floats for one, needs IEEE behaviour back).
    torch.set_flush_denormal(True)
    try:
        return _run(cfg, progress, resume)
    finally:
        torch.set_flush_denormal(False)


def _run(cfg: dict, progress: bool, resume: bool) -> dict:
    t0 = time.time()
    tr, out = cfg["train"], Path(cfg["out"])
    torch.set_num_threads(tr["threads"])
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    x, y = load_split(cfg["dataset"], "train", tr["subset"], cfg["seed"])
    xt, yt = load_split(cfg["dataset"], "test", tr["test_subset"], 0)

    teacher = train_teacher(cfg, x, y, xt, yt, progress) if cfg["distill"]["enabled"] else None

    model = BNN(cfg["model"])
    if cfg["init"]:
        state = torch.load(cfg["init"], weights_only=False)["model"]
        fresh = model.load_state(state, partial=True)
        if fresh and progress:
            tqdm.write(f"{cfg['name']}: warm start from {cfg['init']}; fresh: {', '.join(fresh)}")
    enc_params = list(model.encoder.parameters())
    other = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    groups = [{"params": other, "lr": tr["lr"]}]
    if enc_params:
        groups.append({"params": enc_params, "lr": tr["encoder_lr"]})
    opt = torch.optim.Adam(groups)
    steps_per_epoch = max(1, len(x) // tr["batch"])
    total = tr["epochs"] * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))

    pr = cfg["prune"]
    pruner = None
    if pr["sparsity"] > 0:
        convs = model.convs()[1:] if pr["skip_first"] else model.convs()
        convs = [c for c in convs if c.domain == "bipolar"]  # SBNN layers sparsify themselves
        pruner = Pruner(convs, pr["sparsity"], pr["block_channels"],
                        (pr["end_epoch"] - pr["start_epoch"]) * steps_per_epoch, pr["every"])

    start_epoch, history = 0, []
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, history = state["epoch"], state["history"]

    for epoch in range(start_epoch, tr["epochs"]):
        model.train()
        bar = tqdm(list(_batches(len(x), tr["batch"], gen)), desc=f"{cfg['name']} "
                   f"{epoch + 1}/{tr['epochs']}", disable=not progress, leave=False)
        for i, idx in enumerate(bar):
            step = epoch * steps_per_epoch + i
            if pruner is not None and epoch >= pr["start_epoch"]:
                pruner.step(step - pr["start_epoch"] * steps_per_epoch)
            xb = augment(x[idx], gen, flip=tr["flip"]) if tr["augment"] else x[idx]
            logits = model(xb)
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(xb)
                loss = kd_loss(logits, t_logits, y[idx], cfg["distill"]["temperature"],
                               cfg["distill"]["alpha"])
            else:
                loss = F.cross_entropy(logits, y[idx])
            penalty = _sparse_penalty(model, cfg)
            if penalty is not None:
                loss = loss + penalty
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            model.clip_()
            if i % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        if pruner is not None and epoch + 1 >= pr["end_epoch"]:
            pruner.step(pruner.total)  # reach the final sparsity exactly
        entry = {"epoch": epoch + 1, "seconds": round(time.time() - t0, 1)}
        if ((tr["eval_each_epoch"] and (epoch + 1) % tr["eval_every"] == 0)
                or epoch + 1 == tr["epochs"]):
            model.eval()
            entry["accuracy"], _ = accuracy(model, xt, yt)
            entry["float_accuracy"], _ = accuracy(lambda b: logits_float(model, b), xt, yt)
            if progress:
                tqdm.write(f"{cfg['name']} epoch {epoch + 1}: integer accuracy "
                           f"{entry['accuracy']:.4f}, float {entry['float_accuracy']:.4f} "
                           f"({time.time() - t0:.0f} s)")
        history.append(entry)
        _atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(), "epoch": epoch + 1,
                            "history": history, "config": cfg}, ckpt)
    return finish(model, cfg, xt, yt, history, time.time() - t0, progress)


def finish(model: BNN, cfg: dict, xt, yt, history: list, seconds: float,
           progress: bool) -> dict:
    """Export, check against the golden model, write model.json / metrics.json (+ zoo)."""
    out = Path(cfg["out"])
    model.eval()
    acc, preds = accuracy(model, xt, yt)
    facc, fpreds = accuracy(lambda b: logits_float(model, b), xt, yt)
    desc = model.to_description(cfg["name"])
    kept, total = desc.weight_bits()
    sparse = {}
    for conv, layer in zip(model.convs(), [la for la in desc.layers
                                           if isinstance(la, fmt.Conv)]):
        if conv.domain == "sparse":
            a, b = (float(v.detach()) for v in conv.alpha_beta)
            sparse[layer.name] = {"alpha": a, "beta": b, "q": layer.q, "p": layer.p,
                                  "ones": float(layer.weights.mean())}
    first = min(1000, len(xt))
    meta = {
        "dataset": cfg["dataset"], "trained_by": "bnngen train", "config": cfg["name"],
        "seed": cfg["seed"], "encoding": cfg["model"]["encoder"]["kind"],
        "accuracy": round(acc, 6), "test_images": len(yt),
        "accuracy_first_1000": round(float((preds[:first] == yt[:first]).float().mean()), 6),
        "float_accuracy": round(facc, 6),
        "float_integer_agreement": round(float((preds == fpreds).float().mean()), 6),
        "weight_bits": total, "kept_weight_bits": kept,
        "distilled": bool(cfg["distill"]["enabled"]), "prune_sparsity": cfg["prune"]["sparsity"],
        "prune_block_channels": cfg["prune"]["block_channels"],
    }
    if sparse:
        meta["sparse_layers"] = sparse
    desc = fmt.Description(desc.name, desc.input, desc.encoder, desc.layers, meta)
    out.mkdir(parents=True, exist_ok=True)
    fmt.save(desc, out / "model.json")
    images = xt.permute(0, 2, 3, 1).to(torch.uint8).numpy()
    n = cfg["check"]["golden_images"] or len(images)
    check = check_against_golden(desc, images[:n], cfg["check"]["map_images"], model=model)
    if not check["identical"]:
        raise UserError(f"{cfg['name']}: torch eval and the golden model disagree: "
                        f"{check['first_difference']}")
    if cfg["zoo"]:
        Path(cfg["zoo"]).parent.mkdir(parents=True, exist_ok=True)
        fmt.save(desc, cfg["zoo"])
    metrics = {"name": cfg["name"], **meta, "kept_mbit": kept / 1e6, "total_mbit": total / 1e6,
               "golden_check": check, "history": history, "seconds": round(seconds, 1),
               "encoder_thresholds": (desc.encoder.thresholds.tolist()
                                      if isinstance(desc.encoder, fmt.Thermometer) else None)}
    _atomic_text(json.dumps(metrics, indent=2) + "\n", out / "metrics.json")
    if progress:
        tqdm.write(f"{cfg['name']}: accuracy {acc:.4f} (float {facc:.4f}), "
                   f"{kept / 1e6:.4f} of {total / 1e6:.4f} Mbit kept, golden check on "
                   f"{check['images']} images: identical")
    return metrics



