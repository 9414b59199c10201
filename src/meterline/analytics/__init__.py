"""Analytics over the write-time aggregates: usage and what it costs, per feature."""
