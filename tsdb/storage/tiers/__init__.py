"""Downsampled tiers: ``downsample`` (raw samples to per-window aggregates, over ``downsample_kernels``),
``parquet`` (tier files on disk), ``store`` (:class:`TierStore`: which tier files exist, building them
from blocks) and ``querier`` (:class:`TieredQuerier`: answers from raw data or a tier by resolution).

May import merge, interfaces, tsdb.config and the foundation; blocks are handed in, not imported; never
head/, compact/ or db.
"""
