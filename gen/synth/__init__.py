"""Synthesis and place and route: yosys runs, resource reports, Fmax, and the estimator
against yosys."""
