"""The `jobdesk` command: one module per subcommand."""
