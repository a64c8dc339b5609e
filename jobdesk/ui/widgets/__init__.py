"""Widgets, one file each, named for where they sit in the window."""
