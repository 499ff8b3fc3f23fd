"""Files the workflow writes are readable by whoever the umask lets read them: the provenance JSON
(written atomically through a temporary file) gets the mode a plain open() gives, not mkstemp's
0600, so collaborators on group storage can read it."""

from __future__ import annotations

import os
import stat

import pytest

from conservattack.data.io import read_json, write_json


@pytest.fixture
def umask():
    """Set the process umask for the test, restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o002, 0o664)])
def test_write_json_gives_the_mode_of_a_plain_open(tmp_path, umask, mask, mode):
    umask(mask)
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    write_json({"a": 1}, tmp_path / "sub" / "meta.json")
    write_json({"a": 2}, tmp_path / "sub" / "meta.json")  # replacing an existing file, too
    got = stat.S_IMODE((tmp_path / "sub" / "meta.json").stat().st_mode)
    assert got == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode, oct(got)
    assert read_json(tmp_path / "sub" / "meta.json") == {"a": 2}
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["meta.json"], "no temporary file left"


def test_write_json_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(TypeError):
        write_json({"a": object()}, tmp_path / "meta.json")
    assert list(tmp_path.iterdir()) == []
