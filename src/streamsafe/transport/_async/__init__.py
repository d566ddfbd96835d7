"""The async I/O shells of :mod:`streamsafe.transport`; ``_sync/`` is generated from them."""
