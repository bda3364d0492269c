"""The `bnngen` command line: gen.cli.entry parses it, one module per subcommand (or group of
subcommands) registers its parser. `main` is the console script's entry point."""

from gen.cli.entry import main


__all__ = ["main"]
