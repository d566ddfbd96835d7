"""The pytest plugin's former home, kept for ``pytest_plugins = [...]`` lines and old installs.

The ``pytest11`` entry point now names :mod:`streamsafe._pytest_plugin`, which
loads without the ``server`` extra; this module, inside ``streamsafe.testing``,
needs the extra (the package's ``__init__`` does).
"""

from __future__ import annotations

from streamsafe._pytest_plugin import pytest_configure, streamsafe_emulator

__all__ = ["pytest_configure", "streamsafe_emulator"]
