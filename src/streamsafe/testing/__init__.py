"""Embedded Messages API emulator."""
