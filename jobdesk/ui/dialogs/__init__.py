"""Dialogs: creating a job, the settings."""
