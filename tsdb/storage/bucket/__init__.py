"""Long-term storage in S3-compatible object storage, in Thanos's bucket layout (docs/object-storage.md)."""
