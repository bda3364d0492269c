"""The planner: folding plans, what their options cost, the search, the planned top and
the Pareto exploration."""
