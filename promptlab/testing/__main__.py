"""``python -m promptlab.testing``: the stub OpenAI-compatible server as a process."""

from promptlab.testing.server import main

main()
