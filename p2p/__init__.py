"""obol p2p."""
