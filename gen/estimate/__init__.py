"""The analytical models: resource cost per block and family, engine timing paths, the
layer chain's dataflow."""
