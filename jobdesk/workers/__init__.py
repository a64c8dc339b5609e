"""Job types that ship with jobdesk, and the entry point Dramatiq's worker imports."""
