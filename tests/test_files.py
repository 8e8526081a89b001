"""Atomic text writes: whole files only, with the permissions a plain open would give."""

import os
import stat

import pytest

from mednext.files import write_text_atomic


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_file_has_the_umask_permissions_not_mkstemps(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = write_text_atomic(tmp_path / "sub" / "table.csv", "a,b\n1,2\n")
        with open(tmp_path / "plain.csv", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert path.read_text() == "a,b\n1,2\n"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE((tmp_path / "plain.csv").stat().st_mode)
    assert [p.name for p in path.parent.iterdir()] == ["table.csv"]  # no temp file left


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = write_text_atomic(tmp_path / "t.txt", "old")
    with pytest.raises(TypeError):
        write_text_atomic(path, 3)  # not text: the write fails after the temp file exists
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]
