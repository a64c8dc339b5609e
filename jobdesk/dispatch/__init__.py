"""Dramatiq as the transport: the broker, the dispatcher and the worker runtime."""
