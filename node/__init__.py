"""obol node."""
