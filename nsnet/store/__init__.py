"""The per-frame feature store (Zarr v3). See :mod:`nsnet.store.schema` for the layout."""

from nsnet.store.feature_store import (
    DEFAULT_CHUNK_VIDEOS,
    FeatureStore,
    StoreError,
    StoreLayout,
    StoreMismatchError,
)

__all__ = ["DEFAULT_CHUNK_VIDEOS", "FeatureStore", "StoreError", "StoreLayout", "StoreMismatchError"]
