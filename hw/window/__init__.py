"""The window generator: its plan (patterns, line buffers), its timing and its RTL."""
