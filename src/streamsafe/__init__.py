"""streamsafe: lossless Server-Sent Event streaming for Messages-style LLM APIs."""

__version__ = "0.1.0"
