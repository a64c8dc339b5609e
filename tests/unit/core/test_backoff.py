import itertools
import random

from jobdesk.core.backoff import retry_delay


def test_delays_grow_exponentially_with_bounded_jitter():
    rng = random.Random(1)
    for _ in range(200):
        delays = [retry_delay(a, 1.0, 1000.0, rng) for a in range(1, 7)]
        for i, d in enumerate(delays):
            assert 2**i <= d <= 2**i * 1.25
        assert all(b > a for a, b in itertools.pairwise(delays))


def test_cap_is_respected():
    assert retry_delay(30, 1.0, 60.0) == 60.0


def test_jitter_spreads_retries():
    rng = random.Random(2)
    assert len({round(retry_delay(3, 1.0, 100.0, rng), 6) for _ in range(50)}) > 40
