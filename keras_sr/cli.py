"""``sr-tool``: the command line. Each command parses its options, calls one library function
and reports; user errors (:class:`keras_sr.errors.UserError`) print one line and exit 2."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from keras_sr import __version__
from keras_sr.errors import UserError

app = typer.Typer(
    help="Mobile super-resolution: train ECBSR, fold it into a plain network, export int8 TFLite.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _quiet_tensorflow() -> None:
    # Application-level choice (never done by the library): hide TF's C++ info/warning logs.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def command(func):
    """Register ``func`` as a command; turn UserError into a one-line message and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _quiet_tensorflow()
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None

    return app.command()(wrapper)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"sr-tool {__version__} (Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """Mobile super-resolution by structural re-parameterization."""


@command
def fold(
    run_dir: Annotated[Path, typer.Argument(help="Run directory: config.json + model.weights.h5.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the plain .keras model.")],
    check_size: Annotated[str, typer.Option(help="HxW of the random LR image used to check the fold.")] = "256x256",
) -> None:
    """Fold a trained run into a plain network (conv + activation, depth-to-space, clip),
    check it against the training-time network, and save it as .keras."""
    from keras_sr.runs import fold_run

    size = parse_size(check_size)
    if output.suffix != ".keras":
        raise UserError(f"{output}: the output must end in .keras")
    report = fold_run(run_dir, output, size)
    typer.echo(f"folded {report.name}: {report.num_convs} convs, {report.params:,} parameters")
    typer.echo(f"max abs difference vs training-time network on a random {size[0]}x{size[1]} "
               f"image (0..255 scale, before clip): {report.max_abs_diff:.2e}")
    typer.echo(f"wrote {output}")


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``540x960``) into (height, width)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"size must look like HxW (e.g. 540x960), got {text!r}") from None
    if h < 1 or w < 1:
        raise UserError(f"size must be positive, got {text!r}")
    return h, w


if __name__ == "__main__":
    app()
