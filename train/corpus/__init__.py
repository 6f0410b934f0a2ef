"""Note corpora: GM-SOL (rendered here), TinySOL (official layout), any labelled folder."""
