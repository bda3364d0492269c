"""Model-level subcommands: validate, info, run, demo."""

from __future__ import annotations

import argparse

import numpy as np

from models import description as fmt
from models.datasets import FASHION_MNIST_CLASSES, load_dataset
from models.golden import predict

from models.info import layer_table
from models.shipped import DEFAULT
from gen.cli.args import MODEL_HELP, model_arg


DEFAULT_MODEL = DEFAULT      # zoo:default, the shipped default model


def _limits(args) -> fmt.Limits:
    return fmt.Limits(max_weight_bits=args.max_weight_bits)


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=model_arg, help=MODEL_HELP)
    p.add_argument("--max-weight-bits", type=int, default=fmt.Limits().max_weight_bits,
                   help="reject descriptions with more weight bits than this")


def register(sub) -> None:
    p = sub.add_parser("validate", help="check a model description")
    _add_model_arg(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("info", help="layer table: shapes, weight bits, pruning, binary ops")
    _add_model_arg(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("run", help="golden-model inference on a dataset")
    _add_model_arg(p)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    p.set_defaults(func=cmd_run)


def cmd_validate(args) -> int:
    desc = fmt.load(args.file, _limits(args))
    kept, total = desc.weight_bits()
    print(f"{args.file}: valid ({len(desc.layers)} layers, {kept}/{total} weight bits kept)")
    return 0


def cmd_info(args) -> int:
    desc = fmt.load(args.file, _limits(args))
    print(layer_table(desc))
    return 0


def golden_accuracy(desc: fmt.Description, dataset: str, split: str, limit: int | None):
    images, labels = load_dataset(dataset, split)
    if limit is not None:
        if limit < 1:
            raise fmt.UserError(f"--limit must be at least 1, got {limit}")
        images, labels = images[:limit], labels[:limit]
    if images.shape[1:] != desc.input.shape:
        raise fmt.UserError(f"dataset {dataset} has images {list(images.shape[1:])}, the model "
                            f"expects {list(desc.input.shape)}")
    preds, _ = predict(desc, images)
    return preds, labels


def confusion_summary(preds: np.ndarray, labels: np.ndarray, classes: int,
                      names: tuple[str, ...] = ()) -> str:
    # A dataset may have more labels than the model has classes: their rows count too.
    classes = max(classes, int(labels.max(initial=-1)) + 1)
    conf = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(conf, (labels, preds), 1)
    lines = [f"{'class':<14}{'n':>6}{'recall':>8}  most confused with"]
    for c in range(classes):
        n = conf[c].sum()
        off = conf[c].copy()
        off[c] = -1
        worst = int(off.argmax())
        name = names[c] if c < len(names) else str(c)
        other = names[worst] if worst < len(names) else str(worst)
        recall = conf[c, c] / n if n else float("nan")
        lines.append(f"{name:<14}{n:>6}{recall:>8.1%}  {other} ({conf[c, worst]})")
    return "\n".join(lines)


def cmd_run(args) -> int:
    desc = fmt.load(args.file, _limits(args))
    preds, labels = golden_accuracy(desc, args.dataset, args.split, args.limit)
    acc = float((preds == labels).mean())
    print(f"{desc.name}: golden accuracy {acc:.2%} on {len(labels)} {args.dataset} "
          f"{args.split} images")
    names = FASHION_MNIST_CLASSES if args.dataset == "fashion-mnist" else ()
    print(confusion_summary(preds, labels, desc.num_classes, names))
    return 0

