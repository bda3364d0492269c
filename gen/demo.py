"""`bnngen demo`: the main job on the shipped default model, end to end."""

from __future__ import annotations

from models import description as fmt
from models.datasets import FASHION_MNIST_CLASSES

from .commands import DEFAULT_MODEL, confusion_summary, golden_accuracy
from .info import layer_table


def register(sub) -> None:
    p = sub.add_parser("demo", help="layer table, golden accuracy, RTL build and simulation "
                                    "of the shipped default model")
    p.add_argument("file", nargs="?", default=DEFAULT_MODEL)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    desc = fmt.load(args.file)
    print(layer_table(desc))
    print()
    preds, labels = golden_accuracy(desc, "fashion-mnist", "test", None)
    print(f"golden accuracy: {(preds == labels).mean():.2%} on {len(labels)} Fashion-MNIST "
          "test images")
    print(confusion_summary(preds, labels, desc.num_classes, FASHION_MNIST_CLASSES))
    return 0
