"""The built-in demo data set: locally generated untrimmed videos (no downloads). Data, not a
pipeline stage: `nsnet demo-data` writes it, and `nsnet extract` reads it like any other set."""

from nsnet.demo.dataset import CLASS_PHOTOS, DemoConfig, DemoConfigError, make_demo_dataset
from nsnet.demo.video import InvalidFramesError, default_codec, write_video

__all__ = ["CLASS_PHOTOS", "DemoConfig", "DemoConfigError", "InvalidFramesError", "default_codec",
           "make_demo_dataset", "write_video"]
