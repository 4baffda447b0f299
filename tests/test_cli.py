"""The command line's shape: `python -m explorer --help` lists every sub-command without
importing the heavy libraries (only the chosen sub-command's module is imported), and every
sub-command's --help works."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from explorer.cli import COMMANDS, build_parser, main

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "numpy", "pandas", "streamlit", "sklearn", "umap", "PIL")


def _modules_after(argv: list[str]) -> tuple[set[str], str]:
    """The modules a fresh interpreter holds after `python -m explorer ARGV` (sys.modules, which
    also sees imports made through importlib, unlike -X importtime), and what it printed."""
    code = ("import sys\nfrom explorer.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\nprint('MODULES', *sorted(sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out, _, mods = proc.stdout.rpartition("MODULES ")
    return set(mods.split()), out


def test_top_level_help_lists_every_command_without_heavy_imports():
    names, out = _modules_after(["--help"])
    assert "explorer.cli" in names  # the report is read right
    for name in COMMANDS:
        assert name in out
    loaded = sorted(m for m in names if m.split(".")[0] in HEAVY)
    assert not loaded, f"`python -m explorer --help` imported {loaded}"
    assert not [m for m in names if m.startswith("explorer.") and m != "explorer.cli"]


def test_python_dash_m_explorer_help_runs():
    proc = subprocess.run([sys.executable, "-m", "explorer", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and all(name in proc.stdout for name in COMMANDS)


def test_no_arguments_prints_the_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_a_sub_command_imports_only_its_own_module():
    names, out = _modules_after(["info", "--help"])
    assert "explorer.cli.info" in names and "path" in out
    others = {m for name, (m, _) in COMMANDS.items() if name != "info"}
    assert not others & names


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_sub_command_help_works(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: python -m explorer {name}" in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_sub_command_module_is_thin_and_complete(name):
    import importlib
    module = importlib.import_module(COMMANDS[name][0])
    assert callable(module.add_arguments) and callable(module.run)
    assert module.__name__ == f"explorer.cli.{name}"


def test_the_full_parser_knows_every_sub_command():
    parser = build_parser()
    assert parser.parse_args(["info", "somewhere"]).path == "somewhere"
    assert parser.parse_args(["train", "C", "--out", "O"]).epochs == 30
