"""The async I/O shells, written once: ``scripts/unasync.py`` generates ``_sync/``."""
