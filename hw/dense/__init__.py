"""The streaming dense engine: a whole-map layer computed as the pixels arrive."""
