"""Every trained model in models/zoo/: golden-model accuracy on the full test split, and torch
(eval, rebuilt from the description alone) against the golden model on every test image,
intermediate bit maps on the first 256. Writes bench/results/zoo_check.{json,md}.

    .venv/bin/python bench/zoo_check.py [models/zoo/NAME.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models import description as fmt  # noqa: E402
from models import golden  # noqa: E402
from models.datasets import load_dataset  # noqa: E402
from models.train.check import check_against_golden  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MAP_IMAGES = 256


def check(path: Path) -> dict:
    desc = fmt.load(path)
    images, labels = load_dataset(desc.metadata["dataset"], "test")
    preds, _ = golden.predict(desc, images)
    kept, total = desc.weight_bits()
    result = check_against_golden(desc, images, map_images=MAP_IMAGES)
    return {"file": path.name, "model": desc.name, "dataset": desc.metadata["dataset"],
            "images": len(images),
            "golden_accuracy": round(float((preds == labels).mean()), 4),
            "recorded_accuracy": desc.metadata.get("accuracy"),
            "kept_mbit": round(kept / 1e6, 4), "total_mbit": round(total / 1e6, 4),
            "torch_equals_golden": bool(result["identical"]), "map_images": MAP_IMAGES,
            "first_difference": result.get("first_difference")}


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(
        p for p in (ROOT / "models" / "zoo").glob("*.json")
        if fmt.load(p).metadata.get("trained_by") == "bnngen train")
    rows = [check(p) for p in tqdm(paths, desc="zoo check", unit="model")]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "zoo_check.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["`.venv/bin/python bench/zoo_check.py`", "",
             "| zoo file | kept / total Mbit | golden accuracy (%) | recorded (%) | torch = golden "
             "(images, maps on) |", "|---|---|---|---|---|"]
    for r in rows:
        name = Path(r["file"]).stem
        label = name if name == r["model"] else f"{name} (= {r['model']})"
        lines.append(f"| {label} | {r['kept_mbit']:.4f} / {r['total_mbit']:.4f} | "
                     f"{100 * r['golden_accuracy']:.2f} | {100 * r['recorded_accuracy']:.2f} | "
                     f"{'yes' if r['torch_equals_golden'] else 'NO'} ({r['images']}, "
                     f"{r['map_images']}) |")
    (RESULTS / "zoo_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["torch_equals_golden"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
