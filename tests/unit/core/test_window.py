from jobdesk.dispatch import window


def test_window_is_deep_for_short_jobs_and_one_spare_for_long_ones():
    assert window.per_thread(0.001, 0.05, 32) == 32
    assert window.per_thread(0.01, 0.05, 32) == 6
    assert window.per_thread(2.0, 0.05, 32) == 2
    assert window.per_thread(None, 0.05, 32) == window.DEFAULT_PER_THREAD


def test_group_uses_the_shortest_known_mean():
    assert window.group_mean({"a": 1.0, "b": 0.1}, frozenset({"a", "b", "c"})) == 0.1
    assert window.group_mean({}, frozenset({"a"})) is None
