"""Paris SDK and the `paris` CLI: request training, follow it, sample from the result."""
