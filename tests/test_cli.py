import pytest
from typer.testing import CliRunner

from pocketecg.cli import app

COMMANDS = [["data", "check"], ["prepare"], ["download"], ["train"], ["evaluate"], ["compare"], ["export"],
            ["predict"], ["demo"], ["serve"], ["models"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    for command in COMMANDS:
        assert command[0] in result.output
