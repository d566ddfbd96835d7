# generated from src/streamsafe/transport/_async/__init__.py by scripts/unasync.py: do not edit
"""The async I/O shells of :mod:`streamsafe.transport`; ``_sync/`` is generated from them."""
