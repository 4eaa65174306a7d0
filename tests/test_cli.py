from click.testing import CliRunner
from conftest import run_mtqa

from mtqa import __version__
from mtqa.cli import cli


def test_help_lists_the_three_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("translate", "build-batches", "train-eval"):
        assert command in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_every_command_help_has_an_example():
    for command in ("translate", "build-batches", "train-eval"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output, command


def test_bad_option_is_one_line_without_traceback():
    result = run_mtqa("translate", "--no-such-option")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--no-such-option" in lines[0] and "--help" in lines[0]
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback_behind_the_one_line_error(tmp_path, capsys):
    import pytest

    from mtqa.cli import main

    args = ["build-batches", "--input", str(tmp_path / "missing"), "--output", str(tmp_path / "out")]
    # --verbose goes before the subcommand or among its options
    for command_line, verbose in ((args, False), (["--verbose", *args], True), ([*args, "--verbose"], True)):
        with pytest.raises(SystemExit) as done:
            main(command_line)
        assert done.value.code == 1
        err = capsys.readouterr().err
        assert "mtqa: error: input" in err and "not found" in err
        assert ("Traceback (most recent call last)" in err) == verbose
        assert ("MtqaError" in err) == verbose


def test_every_option_reaches_a_config_field():
    """`fill` copies options into configs by field name: an option named like no field would be silently lost."""
    from dataclasses import fields

    from mtqa.batches.config import SamplerConfig
    from mtqa.batches.job import BuildConfig
    from mtqa.train.config import TrainConfig
    from mtqa.train_eval.config import TrainEvalConfig
    from mtqa.translate.config import TranslateConfig
    from mtqa.translate.filters.chain import FilterOptions
    from mtqa.translate.model.translator import DecodingOptions

    targets = {
        "translate": ((TranslateConfig, DecodingOptions, FilterOptions), {"no_filter", "no_cache", "quiet", "executor_alias"}),
        "build-batches": ((BuildConfig, SamplerConfig), {"quiet", "stats_dir", "plot"}),
        "train-eval": ((TrainEvalConfig, TrainConfig), {"quiet"}),
    }
    for name, (configs, handled_by_hand) in targets.items():
        known = {item.name for config in configs for item in fields(config)} | handled_by_hand
        options = {param.name for param in cli.commands[name].params}
        assert options - known == set(), f"{name}: options reaching no config field"
