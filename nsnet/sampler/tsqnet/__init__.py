"""tsqnet package."""
