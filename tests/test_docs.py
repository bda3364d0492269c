"""The docs' examples: docs/model-format.md's worked example is valid and means what the page
says; docs/python-api.md's Python runs."""

import re
from pathlib import Path

import numpy as np

from models import description as fmt
from models.golden import forward


def test_worked_example():
    page = Path("docs/model-format.md").read_text()
    block = re.search(r"```json\n(.*?)```", page, re.S).group(1)
    desc = fmt.loads(block)
    result = forward(desc, np.array([[[[1], [2]]], [[[0], [3]]]], dtype=np.uint8))
    assert result.maps[1][0].tolist() == [[[0, 1], [0, 1]]]
    assert result.scores.tolist() == [[-1, 1, 1], [0, 0, 2]]
    assert result.predictions.tolist() == [1, 2]


def test_python_api_example(tmp_path, monkeypatch):
    """docs/python-api.md's example runs as it stands, from a folder of its own."""
    page = (Path(__file__).resolve().parents[1] / "docs/python-api.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/python-api.md", "exec"), {"__name__": "example"})
    assert (tmp_path / "build-default" / "manifest.json").is_file()
