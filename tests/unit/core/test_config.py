from jobdesk.config import Settings


def test_original_redis_variables_are_honoured(monkeypatch):
    monkeypatch.delenv("JOBDESK_REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_HOST", "cache.local")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss")
    s = Settings(_env_file=None)
    assert s.redis == "redis://:p%40ss@cache.local:6380/0"


def test_explicit_url_wins(monkeypatch):
    monkeypatch.setenv("REDIS_HOST", "ignored")
    monkeypatch.setenv("JOBDESK_REDIS_URL", "redis://127.0.0.1:6379/3")
    assert Settings(_env_file=None).redis == "redis://127.0.0.1:6379/3"


def test_defaults_bind_locally(monkeypatch):
    for k in ("JOBDESK_HOST", "JOBDESK_API_PORT", "JOBDESK_WS_PORT"):
        monkeypatch.delenv(k, raising=False)
    s = Settings(_env_file=None)
    assert (s.host, s.api_port, s.ws_port) == ("127.0.0.1", 3000, 3001)
