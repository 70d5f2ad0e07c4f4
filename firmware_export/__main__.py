"""python -m firmware_export MODEL.int8.tflite --out DIR"""

import sys

import click

from edgedigits.errors import EdgeDigitsError
from firmware_export import generate


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Directory for the C++ sources.")
def main(model, out_dir):
    """Write TensorFlow Lite Micro sources (model array, op resolver, config, example, README) for a full-integer
    int8 MODEL. The tensor arena size is measured with the tflite-micro host interpreter."""
    try:
        summary = generate(model, out_dir)
    except EdgeDigitsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {', '.join(summary['files'])} to {out_dir}: {len(summary['ops'])} ops "
               f"({', '.join(summary['ops'])}), model {summary['model_bytes']:,} B, arena {summary['arena_bytes']:,} B")
    for row in summary["budget"]:
        click.echo(f"  {row['board']}: {'fits' if row['fits'] else 'DOES NOT FIT'}")


main()
