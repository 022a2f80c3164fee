"""French texts of the command line: click's own messages, help headings and metavars.

Click marks its messages for gettext (`_("Show this message and exit.")`, `ngettext(...)`) but ships no
translation. `french_click()` gives those functions our catalogue while a command runs (scoped, so a Flask
or other click program in the same process keeps its own texts); `FrenchCommand` and `FrenchGroup` add the
parts click does not route through gettext: headings, usage metavars, the help option text.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

import click

# msgid (click's English) → French; plural forms are (singular, plural) → (singulier, pluriel).
CATALOGUE: dict[str, str] = {
    "Aborted!": "Abandon.",
    "deprecated": "obsolète",
    "Missing command.": "Commande manquante.",
    "Options": "Options",
    "Positional arguments": "Arguments",
    "Commands": "Commandes",
    "Value must be an iterable.": "La valeur doit être une liste.",
    "env var: {var}": "variable d'environnement : {var}",
    "default: {default}": "par défaut : {default}",
    "required": "obligatoire",
    "(dynamic)": "(calculé)",
    "Do you want to continue?": "Voulez-vous continuer ?",
    "Confirm the action without prompting.": "Confirmer sans demander.",
    "Show the version and exit.": "Afficher la version et quitter.",
    "Show this message and exit.": "Afficher ce message et quitter.",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "Missing {param_type}": "{param_type} manquant",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "unknown error": "erreur inconnue",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Could not open file {filename!r}: {message}": "Impossible d'ouvrir le fichier « {filename} » : {message}",
    "Error: {message}": "Erreur : {message}",
    "Try '{command} {option}' for help.": "Voir « {command} {option} » pour l'aide.",
    "No such option {name!r}.": "Option inconnue : « {name} ».",
    "No such command {name!r}.": "Commande inconnue : « {name} ».",
    "Usage:": "Utilisation :",
    "Invalid start character for option ({option})": "Caractère initial invalide pour une option ({option})",
    "Option {name!r} does not take a value.": "L'option « {name} » ne prend pas de valeur.",
    "Argument {name!r} takes {nargs} values.": "L'argument « {name} » prend {nargs} valeurs.",
    "Repeat for confirmation": "Répétez pour confirmer",
    "Error: The two entered values do not match.": "Erreur : les deux saisies diffèrent.",
    "Error: invalid input": "Erreur : saisie invalide",
    "Error: {e.message}": "Erreur : {e.message}",
    "Press any key to continue...": "Appuyez sur une touche pour continuer…",
    "file": "fichier",
    "directory": "dossier",
    "path": "chemin",
    "Choose from:\n\t{choices}": "Valeurs possibles :\n\t{choices}",
    "{value} is not in the range {range}.": "{value} n'est pas dans l'intervalle {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "« {value} » n'est pas un booléen valide. Valeurs reconnues : {states}",
    "{value!r} is not a valid {number_type}.": "« {value} » n'est pas un nombre valide.",
    "{value!r} is not a valid UUID.": "« {value} » n'est pas un UUID valide.",
    "{name} {filename!r} does not exist.": "{name} « {filename} » introuvable.",
    "{name} {filename!r} is a file.": "{name} « {filename} » est un fichier.",
    "{name} {filename!r} is a directory.": "{name} « {filename} » est un dossier.",
    "{name} {filename!r} is not readable.": "{name} « {filename} » illisible (droits).",
    "{name} {filename!r} is not writable.": "{name} « {filename} » non modifiable (droits).",
    "{name} {filename!r} is not executable.": "{name} « {filename} » non exécutable.",
}
PLURALS: dict[tuple[str, str], tuple[str, str]] = {
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"):
        ("Argument en trop : {args}", "Arguments en trop : {args}"),
    ("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given."):
        ("Attend {nargs} valeurs, 1 donnée.", "Attend {nargs} valeurs, {len} données."),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"):
        ("Vouliez-vous dire {possibility} ?", "(Vouliez-vous dire : {possibilities} ?)"),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."):
        ("L'option « {name} » attend une valeur.", "L'option « {name} » attend {nargs} valeurs."),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."):
        ("« {value} » n'est pas {choice}.", "« {value} » n'est pas l'une des valeurs {choices}."),
    ("{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}."):
        ("« {value} » ne suit pas le format {format}.", "« {value} » ne suit aucun des formats {formats}."),
}
_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils",
                  "shell_completion", "_termui_impl")
HELP_TEXT = CATALOGUE["Show this message and exit."]
VERSION_TEXT = CATALOGUE["Show the version and exit."]


def gettext_fr(message: str) -> str:
    """Translate one of click's messages (unknown ones stay as they are)."""
    return CATALOGUE.get(message, message)


def ngettext_fr(singular: str, plural: str, n: int) -> str:
    """Translate one of click's plural messages."""
    french = PLURALS.get((singular, plural), (singular, plural))
    return french[0] if n == 1 else french[1]


@contextlib.contextmanager
def french_click() -> Iterator[None]:
    """Route click's gettext calls to the French catalogue for the duration of the block."""
    saved: list[tuple[object, str, object]] = []
    for name in _CLICK_MODULES:
        try:
            module = importlib.import_module(f"click.{name}")
        except ImportError:  # not every click version has every module
            continue
        for attr, french in (("_", gettext_fr), ("ngettext", ngettext_fr)):
            if hasattr(module, attr):
                saved.append((module, attr, getattr(module, attr)))
                setattr(module, attr, french)
    try:
        yield
    finally:
        for module, attr, original in reversed(saved):
            setattr(module, attr, original)


def french_metavar(param: click.Parameter) -> str | None:
    """The French metavar of an option's value type (TEXTE, ENTIER, CHEMIN, AAAA-MM-JJ), or None to keep click's."""
    kind = param.type
    if isinstance(kind, click.DateTime):
        return "AAAA-MM-JJ" if list(kind.formats) == ["%Y-%m-%d"] else None
    if isinstance(kind, click.Path | click.File):
        return "FICHIER" if isinstance(kind, click.File) or not kind.dir_okay else "CHEMIN"
    return {"text": "TEXTE", "integer": "ENTIER", "float": "NOMBRE", "boolean": "OUI/NON"}.get(kind.name)


class FrenchHelpFormatter(click.HelpFormatter):
    """French typography in headings: "Options :"."""

    def write_heading(self, heading: str) -> None:
        """Write a heading with a space before the colon."""
        self.write(f"{'':>{self.current_indent}}{heading} :\n")


class FrenchContext(click.Context):
    """A context whose help is formatted the French way."""

    formatter_class = FrenchHelpFormatter


class FrenchCommand(click.Command):
    """A command whose options show French metavars."""

    context_class = FrenchContext

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Build the command, then give its options French metavars."""
        super().__init__(*args, **kwargs)
        _frenchify(self)

    def main(self, *args: object, **kwargs: object) -> object:
        """Run the command with click's messages in French."""
        with french_click():
            return super().main(*args, **kwargs)


class FrenchGroup(click.Group):
    """A group of commands, all in French (subcommands and subgroups inherit the classes)."""

    context_class = FrenchContext
    command_class = FrenchCommand
    group_class = type  # subgroups are of the same class as their parent

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Build the group with a French subcommand metavar and French option metavars."""
        kwargs.setdefault("subcommand_metavar", "COMMANDE [ARGS]...")
        super().__init__(*args, **kwargs)
        _frenchify(self)

    def main(self, *args: object, **kwargs: object) -> object:
        """Run the command line with click's messages in French."""
        with french_click():
            return super().main(*args, **kwargs)


def _frenchify(command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option) and param.metavar is None and not param.is_flag:
            param.metavar = french_metavar(param)
