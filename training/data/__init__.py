"""From parallel files to batches: reading, cleaning, the memory-mapped cache, mixtures, preparation."""
