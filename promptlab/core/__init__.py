"""The data everything else shares: prompts, models and prices, the sweep grid and its cells,
trials, lineage, feedback, input rows, canonical hashing, redaction of secrets. No I/O beyond
reading input files; nothing here imports another part of promptlab."""
