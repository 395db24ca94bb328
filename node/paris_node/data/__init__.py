"""Video data: the synthetic set, file ingest, clustering into shards and deterministic assignment."""
