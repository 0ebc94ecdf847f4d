"""Thin CLI layer: each module parses options and calls a library function."""
