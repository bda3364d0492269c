"""Golden-model throughput: the full Fashion-MNIST test set through a description.

    .venv/bin/python bench/golden_speed.py [MODEL]

Writes bench/results/golden_speed.json; the numbers go to BENCHMARKS.md ("Golden model").
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from models import description as fmt
from models.datasets import fashion_mnist
from models.golden import predict


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "models/zoo/default.json"
    desc = fmt.load(path)
    images, labels = fashion_mnist("test")
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        preds, _ = predict(desc, images)
        runs.append(time.perf_counter() - start)
    result = {"model": path, "images": len(images), "seconds_best": min(runs),
              "seconds_all": runs, "images_per_second": len(images) / min(runs),
              "accuracy": float((preds == labels).mean()), "machine": platform.machine(),
              "cpus": __import__("os").cpu_count(), "numpy": np.__version__}
    out = Path("bench/results/golden_speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
