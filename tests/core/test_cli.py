import subprocess
import sys

from hiergym.cli import COMMANDS, main
from hiergym.registration import all_entries


def test_list_prints_every_id(capsys):
    main(["list"])
    out = capsys.readouterr().out
    for e in all_entries():
        assert e.id in out


def test_help_names_command_groups():
    r = subprocess.run([sys.executable, "-m", "hiergym", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    assert "list" in r.stdout and "play" in r.stdout
    groups = [k for k, v in COMMANDS.items() if isinstance(v, dict) and v]
    for g in groups:
        assert g in r.stdout


def test_unknown_command_fails_cleanly():
    r = subprocess.run([sys.executable, "-m", "hiergym", "frobnicate"], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
