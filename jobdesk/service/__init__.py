"""The job engine as the server, the CLI and the console use it."""
