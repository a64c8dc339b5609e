"""The PySide6 operator console.

Qt comes in through `jobdesk.ui.qt` only; jobs come in through a
`jobdesk.client.JobsClient` only (see EXAMPLES.md).
"""
