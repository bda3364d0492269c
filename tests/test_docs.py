"""The worked example of docs/model-format.md is valid and means what the page says."""

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
