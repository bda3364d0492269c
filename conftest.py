"""Suite-wide pytest setup.

`make test` runs the suite on every core (pytest-xdist, one test file per worker at a time,
so that the tests of a file share their simulator builds without racing). The shipped
model's end-to-end run takes about half the suite's time on one core: it is collected
first, so that one worker starts on it while the others take everything else.
"""

SLOWEST_FIRST = ("sim/test_shipped.py",)


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return SLOWEST_FIRST.index(path) if path in SLOWEST_FIRST else len(SLOWEST_FIRST)
    items.sort(key=rank)  # stable: every other test keeps its order
