import pytest

from jobdesk.core.errors import InvalidJobData
from jobdesk.core.paths import resolve_under


def test_relative_and_absolute_inside(tmp_path):
    assert resolve_under(tmp_path, "a/b.csv") == tmp_path / "a" / "b.csv"
    assert resolve_under(tmp_path, str(tmp_path / "c.csv")) == tmp_path / "c.csv"


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "", "a\x00b", "a/../b"])
def test_escapes_are_refused(tmp_path, bad):
    with pytest.raises(InvalidJobData):
        resolve_under(tmp_path, bad)


def test_symlink_out_is_refused(tmp_path):
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(InvalidJobData):
        resolve_under(tmp_path, "link/passwd")
