"""adafocus package."""
