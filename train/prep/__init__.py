"""Paper-faithful preprocessing of a note corpus into a memory-mapped dataset cache."""
