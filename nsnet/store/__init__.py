"""The per-frame feature store (Zarr v3). See :mod:`nsnet.store.schema` for the layout."""

from nsnet.store.feature_store import FeatureStore, dump_attrs
from nsnet.store.location import StoreLocation, location_text, parse_storage_options, set_storage_options
from nsnet.store.layout import (
    DEFAULT_CHUNK_VIDEOS,
    StoreError,
    StoreLayout,
    StoreMismatchError,
)

__all__ = ["DEFAULT_CHUNK_VIDEOS", "FeatureStore", "dump_attrs", "StoreLocation", "location_text",
           "parse_storage_options", "set_storage_options", "StoreError", "StoreLayout", "StoreMismatchError"]
