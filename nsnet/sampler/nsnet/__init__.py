"""nsnet package."""
