"""PostgreSQL: the schema, its migrations, and every query jobdesk runs."""
