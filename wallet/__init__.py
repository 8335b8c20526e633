"""obol wallet."""
