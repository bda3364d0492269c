"""`bnngen train CONFIG`: train, export and check a model (needs the `train` extra: torch).

torch is imported inside the command only, so the rest of `bnngen` works without it.
"""

from __future__ import annotations

import json

from models.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("train", help="train a fully-binarized network from a JSON config "
                                     "(models/train/configs/) and export its description")
    p.add_argument("config", help="JSON training configuration")
    p.add_argument("--out", help="run folder (default: the config's 'out' or runs/NAME)")
    p.add_argument("--zoo", help="also write the description to this path")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--subset", type=int, help="train on this many training images")
    p.add_argument("--seed", type=int, help="override the seed")
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="override any config key, e.g. --set prune.sparsity=0.5")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true",
                   help="replace the --zoo file even if it is not a model description")
    p.set_defaults(func=cmd_train)


def _overrides(args) -> dict:
    over: dict = {}

    def put(path: str, value) -> None:
        node = over
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value

    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=JSON, got {item!r}")
        try:
            put(key, json.loads(text))
        except json.JSONDecodeError:
            put(key, text)  # a bare string
    for key, value in (("out", args.out), ("zoo", args.zoo), ("train.epochs", args.epochs),
                       ("train.subset", args.subset), ("seed", args.seed)):
        if value is not None:
            put(key, value)
    return over


def cmd_train(args) -> int:
    try:
        from models.train.config import load_config
        from models.train.loop import run
    except ImportError as e:
        raise UserError(f"training needs torch ({e.name} is missing); install the extra: "
                        "pip install -e '.[train]'") from None
    cfg = load_config(args.config, _overrides(args))
    _check_outputs(cfg, args)
    metrics = run(cfg, progress=not args.quiet, resume=args.resume)
    print(f"{metrics['name']}: test accuracy {metrics['accuracy']:.2%} on "
          f"{metrics['test_images']} images, {metrics['kept_mbit']:.4f} Mbit of weights, "
          f"description {cfg['out']}/model.json")
    return 0


def _is_description(path) -> bool:
    try:
        with open(path, "rb") as f:
            return b'"format_version"' in f.read(4096)
    except OSError:
        return False


def _check_outputs(cfg: dict, args) -> None:
    """Before training: the run folder must be a folder, the zoo file a description."""
    from pathlib import Path

    from models.errors import printable

    from gen.common.staging import check_output_file, check_parent

    out = Path(cfg["out"])
    if out.exists() and not out.is_dir():
        raise UserError(f"{printable(str(out))}: the run folder exists and is not a folder")
    check_parent(out, out.absolute())
    if cfg["zoo"]:
        check_output_file(cfg["zoo"], _is_description, force=args.force,
                          inputs=[args.config])
