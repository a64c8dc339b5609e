"""Notification payloads: one id, or many from one statement."""

from __future__ import annotations

from jobdesk.store.notify import parse


def test_one_subject() -> None:
    assert parse("job-created:abc") == [("job-created", "abc")]


def test_many_subjects_from_one_statement() -> None:
    assert parse("job-completed:a,b,c") == [
        ("job-completed", "a"),
        ("job-completed", "b"),
        ("job-completed", "c"),
    ]


def test_not_a_notification() -> None:
    assert parse("garbage") == []
    assert parse("job-update:") == []
