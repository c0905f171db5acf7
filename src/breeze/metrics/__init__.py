"""Device metrics: batched ingest, raw and hourly storage, retention, the metrics API."""
