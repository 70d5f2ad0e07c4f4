"""The ``edgedigits`` command line. Expected failures print one line and exit 1; bad usage exits 2."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgedigits import __version__
from edgedigits.deps import require, tensorflow
from edgedigits.errors import EdgeDigitsError

DATA_HELP = "MNIST location: an IDX directory, mnist.npz or Kaggle train.csv [default: $EDGEDIGITS_DATA, cache, download]"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgedigits")
def cli():
    """Handwritten-digit recognition from training to a Raspberry Pi camera and a microcontroller.

    \b
    Start with:
      edgedigits evaluate            accuracy of the bundled model on MNIST
      edgedigits train --help        train the seed CNN (or the micro one)
    """


@cli.command()
@click.option("--arch", type=click.Choice(["seed", "micro"]), default="seed", show_default=True,
              help="Architecture from the model registry.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=86, show_default=True,
              help="Global batch size (split across replicas).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (one-epoch warm-up, then cosine decay to 0).")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for the split, order, augmentation, init.")
@click.option("--val-split", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Fraction of the training set held out to pick the best epoch.")
@click.option("--label-smoothing", type=click.FloatRange(0, 0.5), default=0.0, show_default=True)
@click.option("--no-augment", is_flag=True, help="Turn off rotation/zoom/shift augmentation.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N training images.")
@click.option("--data", type=str, default=None, help=DATA_HELP)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory [default: runs/ARCH].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last completed epoch.")
@click.option("--mixed-precision", is_flag=True, help="float16 compute (GPUs); weights stay float32.")
@click.option("--distribute", type=click.Choice(["auto", "none", "mirrored", "multiworker"]), default="auto",
              show_default=True,
              help="tf.distribute strategy: auto = Mirrored over all GPUs when there are several; "
              "multiworker reads TF_CONFIG.")
@click.option("--bundle", is_flag=True, hidden=True, help="Copy the result into the package as the bundled model.")
def train(arch, epochs, batch_size, lr, seed, val_split, label_smoothing, no_augment, limit, data, out, resume,
          mixed_precision, distribute, bundle):
    """Train a CNN on MNIST; writes model.keras, metrics.json, history.json and PNG plots to --out.

    A checkpoint is saved after every epoch: after an interruption, run the same command with --resume.
    """
    tensorflow()
    require("matplotlib", "train")
    from edgedigits import models
    from edgedigits.train import TrainConfig, copy_run_as_bundled, finish
    from edgedigits.train import train as run_training

    cfg = TrainConfig(arch=arch, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, val_split=val_split,
                      augment=not no_augment, label_smoothing=label_smoothing, mixed_precision=mixed_precision,
                      distribute=distribute, limit=limit)
    out = out or Path("runs") / arch
    _, dataset, state = run_training(cfg, out, data=data, resume=resume)
    finish(out, dataset, state, sys.argv[1:])
    if bundle:
        copy_run_as_bundled(out, state["config"]["arch"], models.BUNDLED_DIR)


@cli.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", type=str, default=None, help=DATA_HELP)
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def evaluate(model, data, split, as_json):
    """Accuracy, per-class precision/recall and confusion matrix of MODEL on MNIST.

    MODEL defaults to the bundled seed model (edgedigits/models/seed.keras).
    """
    import json

    from edgedigits import data as mnist
    from edgedigits import models
    from edgedigits.evaluate import classification_report, predict_keras, print_report

    model = model or models.bundled("seed")
    if not model.is_file():
        raise EdgeDigitsError(f"model file not found: {model}")
    if model.suffix != ".keras":
        raise EdgeDigitsError(f"{model}: only .keras models can be evaluated in this version")
    net = models.load_keras(model)
    part = mnist.load(data).split(split)
    if part.labels is None:
        raise EdgeDigitsError(f"the {split} split of the data has no labels")
    report = classification_report(part.labels, predict_keras(net, part.images).argmax(1))
    report["model"] = str(model)
    print_report(report, title=f"{model} on the MNIST {split} set")
    if as_json:
        click.echo(json.dumps(report))


@cli.command("export")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--formats", "formats", multiple=True, metavar="LIST",
              help="Comma-separated: onnx, onnx-int8, tflite, tflite-fp16, tflite-dynamic, tflite-int8, micro, or all "
              "[default: onnx,tflite].")
@click.option("--int8", is_flag=True, help="Also write the calibrated int8 models (tflite-int8 and onnx-int8).")
@click.option("--calib", type=click.IntRange(min=10), default=500, show_default=True,
              help="Calibration images: drawn from the training set, stratified by class, fixed seed.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory [default: the model's directory].")
@click.option("--min-agreement", type=click.FloatRange(0, 100), default=99.5, show_default=True,
              help="Minimum top-1 agreement with the Keras model, in percent; artifacts below it are deleted.")
@click.option("--verify-samples", type=click.IntRange(min=1), default=None,
              help="Verify on the first N test digits [default: all 10,000].")
@click.option("--manifest", default="export.json", show_default=True, help="Name of the manifest written to --out.")
@click.option("--data", type=str, default=None, help=DATA_HELP)
def export_cmd(model, formats, int8, calib, out, min_agreement, verify_samples, manifest, data):
    """Export MODEL (.keras) to ONNX and TFLite, then verify each file in its own runtime.

    Every artifact runs on the MNIST test set in LiteRT or onnxruntime and is compared with the Keras model
    (accuracy, top-1 agreement, max abs difference); results go to DIR/export.json. An artifact below
    --min-agreement is deleted and the command exits 1. `micro` also writes TensorFlow Lite Micro sources.
    """
    from edgedigits.export import export
    from edgedigits.formats import parse_formats

    names = parse_formats(formats, int8=int8)
    tensorflow()
    result = export(model, names, out=out, calib_n=calib, verify_samples=verify_samples,
                    min_agreement=min_agreement / 100, data=data, manifest_name=manifest)
    if result["failed"]:
        failed = ", ".join(f["format"] for f in result["failed"])
        raise EdgeDigitsError(f"{len(result['failed'])} format(s) failed: {failed} (details in {manifest})")


def main() -> None:
    try:
        cli.main(prog_name="edgedigits", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EdgeDigitsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
