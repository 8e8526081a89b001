"""mednext-nnunet-env: the export line that lets nnU-Net find our trainers, and its --help."""

import os
import shlex
import sys

import pytest

from mednext.nnunet.env import ext_trainer_value, main, trainer_folders


def test_prints_the_export_line_keeping_the_users_folders(monkeypatch, capsys):
    monkeypatch.setenv("nnUNet_extTrainer", "/elsewhere")
    monkeypatch.setattr(sys, "argv", ["mednext-nnunet-env"])  # as the console script calls it
    assert main() == 0
    value = ext_trainer_value("/elsewhere")
    assert capsys.readouterr().out == f"export nnUNet_extTrainer={shlex.quote(value)}\n"
    assert value.split(os.pathsep) == [*trainer_folders(), "/elsewhere"]


def test_help_prints_help_not_the_export_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mednext-nnunet-env", "--help"])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "usage: mednext-nnunet-env" in out
    assert "nnUNet_extTrainer" in out and "export nnUNet_extTrainer=" not in out
