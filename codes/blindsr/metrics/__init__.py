"""Image and kernel quality metrics."""
