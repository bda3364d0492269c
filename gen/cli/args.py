"""Arguments that several subcommands share."""

from __future__ import annotations

import argparse

from models.shipped import model_path

MODEL_HELP = "model description (JSON), or zoo:NAME for a shipped one (zoo:default)"


def model_arg(text: str) -> str:
    """A model argument: a path, or `zoo:NAME` resolved to the installed description."""
    try:
        return model_path(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
