"""One small adapter per AI tool (claude, opencode, aider, codex, dummy).

Each adapter says which binary to run, where the tool keeps its state, which credentials
to inject and how to resume a session.
"""
