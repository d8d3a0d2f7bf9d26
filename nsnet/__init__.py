"""nsnet: NSNet (Non-saliency Suppression) frame sampling for efficient video recognition."""

__version__ = "0.1.0"
