"""Click's own texts in French for every command (help, usage errors), and no progress bar off a terminal.

Pure: `--help` and usage errors are answered before any command touches the database.
"""

from __future__ import annotations

import gettext
import io
import re

import click
import pytest
from click.testing import CliRunner

from app import cli

# click's English texts and metavars (type names, argument names taken from the Python parameter)
ENGLISH = re.compile(r"Usage:|Options:|Commands:|Arguments:|Show this message|Show the version|\[required\]|default:|"
                     r"env var:|\b(COMMAND|TEXT|INTEGER|FLOAT|PATH|FILENAME|DATETIME|LAND|PLAN_CODE|REVISION|LAYER|"
                     r"NAME|EMAIL|STATUS|ROLE)\b|%Y-%m-%d")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = _commands(cli)


def test_every_command_is_listed():
    assert ("bulk-instruct",) in COMMANDS and ("db", "upgrade") in COMMANDS and ("apikey", "create") in COMMANDS
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "urbasig")
def test_help_is_in_french(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("Utilisation : urbasig") and "Options :" in text
    assert "--help  " in text and "Afficher ce message et quitter." in text
    english = [m.group(0) for m in ENGLISH.finditer(text)]
    assert not english, f"textes anglais de click dans « urbasig {' '.join(path)} --help » : {english}\n{text}"


def test_required_defaults_and_metavars_in_french():
    text = CliRunner().invoke(cli, ["import", "--help"]).output
    assert "--layer TEXTE" in text and "[obligatoire]" in text and "--mapping CHEMIN" in text
    export = CliRunner().invoke(cli, ["export", "--help"]).output
    assert "[par défaut : EPSG:26191]" in export and "COUCHE FICHIER" in export
    assert "--date AAAA-MM-JJ" in CliRunner().invoke(cli, ["instruct", "--help"]).output
    assert "Afficher la version et quitter." in CliRunner().invoke(cli, ["--help"]).output
    assert "Commandes :" in CliRunner().invoke(cli, ["db", "--help"]).output


@pytest.mark.parametrize(("args", "french"), [
    (["qa"], "Erreur : Argument manquant 'PLAN'."),
    (["instruct"], "Erreur : Argument manquant 'RÉF...'."),
    (["import", "x.gpkg"], "Erreur : Option manquante '--layer'."),
    (["sample-data", "--parcels", "beaucoup"], "Erreur : Valeur invalide pour '--parcels' : « beaucoup » n'est pas un "
                                               "nombre valide."),
    (["plans", "--on", "hier"], "Erreur : Valeur invalide pour '--on' : « hier » ne suit pas le format"),
    (["plan-status", "PA", "vigueur", "--date", "2026-01-01"], "n'est pas l'une des valeurs 'etude'"),
    (["qa", "PA", "--strictt"], "Erreur : Option inconnue : « --strictt ». Vouliez-vous dire '--strict' ?"),
    (["qaa"], "Erreur : Commande inconnue : « qaa »."),
    (["qa", "PA", "PB"], "Erreur : Argument en trop : PB"),
    (["export", "zones", "z.gpkg", "--crs"], "Erreur : L'option « --crs » attend une valeur."),
])
def test_usage_errors_are_in_french(args, french):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert french in result.stderr, result.stderr
    assert "Error" not in result.stderr and "Usage:" not in result.stderr and "Try '" not in result.stderr


def test_usage_error_says_where_to_find_help():
    result = CliRunner().invoke(cli, ["qa"])
    assert result.stderr.splitlines()[:2] == ["Utilisation : urbasig qa [OPTIONS] PLAN",
                                              "Voir « urbasig qa --help » pour l'aide."]


def test_french_texts_are_scoped_to_our_command_line():
    CliRunner().invoke(cli, ["--help"])
    assert click.core._ is gettext.gettext and click.exceptions.ngettext is gettext.ngettext  # restored


def test_catalogue_keeps_the_placeholders():
    import string

    from cli_texts import CATALOGUE, PLURALS

    def fields(text):
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for english, french in CATALOGUE.items():
        assert fields(french) <= {f.split("!")[0] for f in fields(english)} | {"e.message"}, english
    for english, french in PLURALS.items():
        for e, f in zip(english, french, strict=True):
            assert fields(f) <= {x.split("!")[0] for x in fields(english[0]) | fields(english[1])}, e


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    from layers.bulk import show_bar

    assert show_bar(True, _Terminal()) is True
    assert show_bar(True, io.StringIO()) is False  # a pipe or a log file: steps only
    assert show_bar(False, _Terminal()) is False
    assert show_bar(True, object()) is False  # a stream without isatty
