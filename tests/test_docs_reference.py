"""The reference (docs/reference/) is complete by construction: its lists come from the code.

Every ``LIVELIKE`` key (``conf.DEFAULTS``) has its heading in settings.md; every
check id the checks can emit has its heading in checks.md; every option of every
``livelike_*`` command (its own parser) is named in that command's section of
commands.md, and every option of the fake's command line in fake.md; every signal
of ``livelike_profiles.signals`` has its section in signals.md, naming every
argument the package sends it with. No server, no database, no LiveLike.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand
from django.dispatch import Signal

from livelike_profiles import signals
from livelike_profiles.conf import DEFAULTS
from livelike_profiles.fake import cli as fake_cli

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
PACKAGE = ROOT / "livelike_profiles"

# A check id as the checks write it: in full, or its last part when the prefix is added later.
_CHECK_ID = re.compile(r"(?:livelike_profiles\.)?([EW]\d{3})")


def _sections(page: str) -> dict[str, str]:
    """The page's second-level sections: heading text -> the text up to the next one."""
    text = (REFERENCE / page).read_text()
    parts = re.split(r"^## +(.+?) *$", text, flags=re.MULTILINE)
    return {heading: body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def _names(text: str, name: str) -> bool:
    """Whether ``text`` names ``name`` in code (backticks), not merely a longer name."""
    return re.search("`" + re.escape(name) + r"(?![\w-])", text) is not None


def _modules() -> list[ast.Module]:
    paths = (p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)
    return [ast.parse(path.read_text()) for path in paths]


# -- settings ---------------------------------------------------------------------------


def test_every_setting_has_its_heading_with_type_and_default():
    sections = _sections("settings.md")
    missing = sorted(set(DEFAULTS) - set(sections))
    assert not missing, f"settings.md has no '## KEY' heading for {missing}"
    for key in DEFAULTS:
        assert "**Type**" in sections[key], f"settings.md: {key} says no **Type**"
        assert "**Default**" in sections[key], f"settings.md: {key} says no **Default**"


# -- checks -----------------------------------------------------------------------------


def _check_ids() -> set[str]:
    """Every check id written in the checks package, those built from a suffix included."""
    ids = set()
    for path in (PACKAGE / "checks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = _CHECK_ID.fullmatch(node.value)
                if match:
                    ids.add(match.group(1))
    return ids


def test_every_check_id_has_its_heading():
    ids = _check_ids()
    # The scan itself must work: the checks have dozens of ids, some built from a suffix.
    assert len(ids) >= 30, sorted(ids)
    missing = sorted(ids - set(_sections("checks.md")))
    assert not missing, f"checks.md has no '## ID' heading for {missing}"


# -- commands ---------------------------------------------------------------------------


def _options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _commands() -> list[str]:
    return sorted(
        name
        for name, app in get_commands().items()
        if app == "livelike_profiles" and name.startswith("livelike_")
    )


def test_every_command_option_is_in_its_section():
    sections = _sections("commands.md")
    # Django's own options (--verbosity, --settings, -h...): those of a command with none.
    standard = _options(BaseCommand().create_parser("manage.py", "command"))
    commands = _commands()
    assert len(commands) >= 4, commands
    for name in commands:
        assert name in sections, f"commands.md has no '## {name}' heading"
        parser = load_command_class("livelike_profiles", name).create_parser("manage.py", name)
        options = sorted(_options(parser) - standard)
        missing = [option for option in options if not _names(sections[name], option)]
        assert not missing, f"commands.md, {name}: {missing} not named"


def test_every_option_of_the_fake_command_line_is_in_fake_md():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        fake_cli.main(["--help"])
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", out.getvalue())) - {"--help"}
    assert len(options) >= 5, options
    text = (REFERENCE / "fake.md").read_text()
    missing = sorted(option for option in options if not _names(text, option))
    assert not missing, f"fake.md does not name {missing}"


# -- signals ----------------------------------------------------------------------------


def _called(node: ast.expr) -> str:
    """The name a call's function goes by: ``send`` for ``notify.send`` and ``send`` alike."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _keywords(call: ast.Call) -> set[str]:
    return {keyword.arg for keyword in call.keywords if keyword.arg is not None}


def _senders(modules: list[ast.Module]) -> dict[str, set[str]]:
    """Functions that send a signal given to them: name -> the arguments they add.

    Such as ``Attempt._send(signal, **kwargs)``, which sends ``profile`` and ``user``.
    """
    senders: dict[str, set[str]] = {"send": set()}
    for module in modules:
        for func in ast.walk(module):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = {arg.arg for arg in func.args.args + func.args.kwonlyargs}
            for call in ast.walk(func):
                if (
                    isinstance(call, ast.Call)
                    and _called(call.func) == "send"
                    and call.args
                    and isinstance(call.args[0], ast.Name)
                    and call.args[0].id in params
                ):
                    senders[func.name] = _keywords(call)
    return senders


def _signal_arguments() -> dict[str, set[str]]:
    """Each signal of ``livelike_profiles.signals``: every argument the package sends it with."""
    names = {name for name, value in vars(signals).items() if isinstance(value, Signal)}
    found: dict[str, set[str]] = {name: {"sender"} for name in names}
    modules = _modules()
    senders = _senders(modules)
    for module in modules:
        for call in ast.walk(module):
            if not (isinstance(call, ast.Call) and call.args):
                continue
            signal, how = _called(call.args[0]), _called(call.func)
            if signal in names and how in senders:
                found[signal] |= _keywords(call) | senders[how]
    return found


def test_every_signal_and_argument_is_in_signals_md():
    arguments = _signal_arguments()
    assert arguments, "livelike_profiles.signals declares no signal"
    sections = _sections("signals.md")
    for name, sent in sorted(arguments.items()):
        # The scan itself must work: each signal is sent with more than its sender.
        assert len(sent) > 1, f"{name}: no call sending it was found"
        assert name in sections, f"signals.md has no '## {name}' heading"
        missing = sorted(argument for argument in sent if not _names(sections[name], argument))
        assert not missing, f"signals.md, {name}: arguments {missing} not named"
