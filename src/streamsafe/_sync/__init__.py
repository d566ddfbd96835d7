# generated from src/streamsafe/_async/__init__.py by scripts/unasync.py: do not edit
"""The async I/O shells, written once: ``scripts/unasync.py`` generates ``_sync/``."""
