"""Compaction: ``plan`` decides (pure functions over block time ranges: what to merge, what retention
drops), ``compactor`` does (persist a head range as a block, merge blocks into one).

May import block/, head/, merge, interfaces and the foundation; never tiers/ or db.
"""
