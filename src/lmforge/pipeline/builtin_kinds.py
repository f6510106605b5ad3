"""Registers lmforge's own stages as pipeline kinds (filled in as each stage lands)."""
