"""Stage `mtqa build-batches`: index parallel corpora -> sample X-X / X-Y batches -> training shards."""
