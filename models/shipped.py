"""The shipped model descriptions (models/zoo/, installed with the package), named on the
command line as `zoo:NAME` (`zoo:default` is the default model), so that they work from
any folder, with or without a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PREFIX = "zoo:"
DEFAULT = PREFIX + "default"


def shipped() -> list[str]:
    """The names of the shipped descriptions."""
    return sorted(f.name.removesuffix(".json") for f in (resources.files("models") / "zoo")
                  .iterdir() if f.name.endswith(".json"))


def model_path(arg: str) -> str:
    """`zoo:NAME` -> the shipped description's file; any other argument as it is. A name
    that is not shipped raises ValueError naming the shipped ones."""
    if not arg.startswith(PREFIX):
        return arg
    name = arg[len(PREFIX):]
    if name not in shipped():
        raise ValueError(f"{arg}: no shipped model of that name (shipped: "
                         f"{', '.join(PREFIX + n for n in shipped())})")
    return str(Path(str(resources.files("models") / "zoo" / f"{name}.json")))
