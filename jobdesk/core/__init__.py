"""The job model, its states, events and errors: pure Python, no framework."""
