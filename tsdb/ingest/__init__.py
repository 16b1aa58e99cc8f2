"""Ingest of other systems' wire formats (StatsD/DogStatsD, DataDog, OTLP, Influx, Graphite): each decoder turns
its protocol into labelled float samples and hands them to a storage Appender; hot parsing loops are numba kernels."""
