"""The ``edgedigits`` command line. Expected failures print one line and exit 1; bad usage exits 2."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # OpenCV's own warnings would break one-line errors
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's chatter about streams (AV_LOG_QUIET)

import click

from edgedigits import __version__
from edgedigits.deps import keras_backend, require
from edgedigits.errors import EdgeDigitsError
from edgedigits.reader.sources import MAX_PIXELS
from edgedigits.reader.vision.finder import PAGE_MODES
from edgedigits.runtime.backends import BACKENDS
from edgedigits.training.architectures import ARCHS, RECIPES

DATA_HELP = "MNIST location: an IDX directory, mnist.npz or Kaggle train.csv [default: $EDGEDIGITS_DATA, cache, download]"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgedigits")
def cli():
    """Handwritten-digit recognition from training to a Raspberry Pi camera and a microcontroller.

    \b
    Start with:
      edgedigits predict photo.jpg   read the digits in a photo
      edgedigits camera --source 0   read them from a webcam, frame by frame (--serve 8080: a live page)
      edgedigits evaluate            accuracy of the bundled model on MNIST
      edgedigits train --help        train the camera, seed or micro CNN
    """


@cli.command()
@click.option("--arch", type=click.Choice(list(ARCHS)), default="seed", show_default=True,
              help="Architecture from the model registry: seed (the Kaggle CNN, 10 classes), camera (the seed "
              "body with an 11th class, not a digit), micro (11 classes, for microcontrollers).")
@click.option("--recipe", type=click.Choice(RECIPES), default=None,
              help="seed: the Kaggle kernel's rotation/zoom/shift. camera: that plus stroke width, elastic "
              "distortion, blur/noise/JPEG, crop jitter and generated not-a-digit crops "
              "[default: the architecture's own: seed for seed, camera for camera and micro].")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Epochs [default: 30]. With --resume, the run's own count (its learning-rate schedule ends there).")
@click.option("--batch-size", type=click.IntRange(min=1), default=86, show_default=True,
              help="Global batch size (split across replicas).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (one-epoch warm-up, then cosine decay to 0).")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for the split, order, augmentation, init.")
@click.option("--val-split", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Fraction of the training set held out to pick the best epoch.")
@click.option("--val-seed", type=int, default=None,
              help="Seed of that hold-out (its split and, for the camera recipe, its crops) [default: --seed]. "
              "A fine-tune with a new --seed keeps the hold-out of the run it starts from with --val-seed OLD.")
@click.option("--label-smoothing", type=click.FloatRange(0, 0.5), default=0.0, show_default=True)
@click.option("--no-augment", is_flag=True, help="Turn off rotation/zoom/shift augmentation.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N training images.")
@click.option("--data", type=str, default=None, help=DATA_HELP)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory [default: runs/ARCH].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last completed epoch.")
@click.option("--init-from", type=str, default=None,
              help="Fine-tune: start from this model's weights (a .keras file of the same architecture, or a "
              "bundled one by name) instead of random ones. Use a lower --lr and a new --seed.")
@click.option("--teacher", type=str, default=None,
              help="Distil (camera recipe): mix a trained model's softened answers into every target, so a small "
              "model learns from a large one. A .keras file or a bundled name, e.g. --teacher camera; a "
              "10-class teacher (--teacher seed) teaches a camera model the digits, and the junk keeps its label.")
@click.option("--distill", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="The teacher's share of each target; the rest is the true label.")
@click.option("--wise", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Fine-tune: ship this share of the learned weights averaged with the --init-from ones (WiSE-FT). "
              "0.5 keeps more of what the start model read and most of what the fine-tune taught.")
@click.option("--user-data", type=click.Path(file_okay=False, exists=True), default=None,
              help="Learn your own writing: mix the labelled crops of this folder (from --collect and `edgedigits "
              "label`) into every epoch, with MNIST replay. Use with --init-from camera and a few epochs.")
@click.option("--user-holdout", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True,
              help="The latest share of each class of those crops (by capture time), never trained on; metrics.json "
              "reports them before and after.")
@click.option("--mixed-precision", is_flag=True, help="float16 compute (GPUs); weights stay float32.")
@click.option("--distribute", type=click.Choice(["auto", "none", "mirrored", "multiworker"]), default="auto",
              show_default=True,
              help="tf.distribute strategy: auto = Mirrored over all GPUs when there are several; "
              "multiworker reads TF_CONFIG.")
@click.option("--bundle", is_flag=True, hidden=True, help="Copy the result into the package as the bundled model.")
def train(arch, recipe, epochs, batch_size, lr, seed, val_split, val_seed, label_smoothing, no_augment, limit, data,
          out, resume, init_from, teacher, distill, wise, user_data, user_holdout, mixed_precision, distribute,
          bundle):
    """Train a CNN on MNIST; writes model.keras, metrics.json, history.json and PNG plots to --out.

    A checkpoint is saved after every epoch: after an interruption, run the same command with --resume.
    Training runs on TensorFlow; on a GPU machine without it, KERAS_BACKEND=jax trains the camera
    recipe on one device.
    """
    keras_backend()
    require("matplotlib", "train")
    from edgedigits.training.train import DEFAULT_EPOCHS, TrainConfig, run

    cfg = TrainConfig(arch=arch, recipe=recipe, epochs=epochs or DEFAULT_EPOCHS, batch_size=batch_size, lr=lr,
                      seed=seed, val_split=val_split, val_seed=val_seed, augment=not no_augment,
                      label_smoothing=label_smoothing, mixed_precision=mixed_precision, distribute=distribute,
                      limit=limit, init_from=init_from, teacher=teacher, distill=distill, user_data=user_data,
                      user_holdout=user_holdout, wise=wise)
    run(cfg, out or Path("runs") / arch, sys.argv[1:], data=data, resume=resume, bundle=bundle, epochs_given=epochs)


MODEL_HELP = ("Model file (.tflite, .onnx or .keras), or a bundled model by name: camera, seed (the Kaggle CNN) or "
              "micro [default: camera, int8 TFLite].")
PAGE_HELP = ("auto: find the sheets of paper in the frame (a page on a desk, a scan's dark margin) and read each one, "
             "flattened; off: read the whole frame.")
CONFIDENCE_HELP = ("Drop digits the model is less sure of. Confidence is a digit's share of the model's probabilities, "
                   "the same in every format (int8 outputs are divided by their sum, so they reach 1.0 too).")


def collect_options(command):
    """--collect DIR, --collect-below P, --collect-max-mb N: the options of every command that reads digits."""
    options = [
        click.option("--collect", "collect_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Save each digit read below --collect-below into DIR/unlabelled (a grey crop, the 28x28 the "
                     "model saw and a JSON sidecar), once per near-duplicate, to label with `edgedigits label DIR`."),
        click.option("--collect-below", type=click.FloatRange(0, 1), default=0.9, show_default=True,
                     help="Collect digits read with a confidence below this (1: every digit)."),
        click.option("--collect-max-mb", type=click.FloatRange(min=1), default=200.0, show_default=True,
                     help="The most DIR/unlabelled may hold; the oldest unlabelled crops go first."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _collector(folder: Path | None, below: float, max_mb: float, classifier):
    from edgedigits.crops.collect import Collector

    return Collector(folder, below, max_mb, getattr(classifier, "path", None)) if folder else None


def _load_model(model: Path | None, threads: int | None = None):
    from edgedigits.runtime.classifiers import open_model

    return open_model(model, threads)


@cli.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", type=str, default=None, help=DATA_HELP)
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def evaluate(model, data, split, as_json):
    """Accuracy, per-class precision/recall and confusion matrix of MODEL on MNIST.

    MODEL is any format (.keras, .onnx, .tflite) or a bundled model's name: camera (the default), seed (the exact
    Kaggle reproduction) or micro. An 11-class model's "not a digit" answers count as errors; the reject rate is
    reported beside the accuracy.
    """
    import json

    from edgedigits.training.evaluate import evaluate_model

    report = evaluate_model(_load_model(model), data, split)
    if as_json:
        click.echo(json.dumps(report))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None, help=MODEL_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line on stdout.")
@click.option("--annotate", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write copies of the images with boxes and labels drawn on them into this directory.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0, show_default=True, help=CONFIDENCE_HELP)
@click.option("--kaggle", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kaggle Digit Recognizer test.csv: classify its 28x28 digits and write a submission (-o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("submission.csv"),
              show_default=True, help="Submission file for --kaggle.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
              help="Refuse images whose header declares more pixels than this (checked before decoding).")
@click.option("--strict", is_flag=True, help="Refuse truncated images instead of reading them with a warning.")
@click.option("--page", type=click.Choice(PAGE_MODES), default="auto", show_default=True, help=PAGE_HELP)
@click.option("--debug", "debug_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write NAME.debug.png per image into this directory: the sheet of paper found, the ink, the lines "
                   "removed, every candidate digit and why it was kept or dropped, and the reading.")
@collect_options
def predict(paths, model, as_json, annotate, min_confidence, kaggle, output, threads, max_pixels, strict, page,
            debug_dir, collect_dir, collect_below, collect_max_mb):
    """Find and read the handwritten digits in images (files or folders).

    \b
    Each image gives its digits with boxes (pixels: x, y, w, h) and the numbers they form, e.g.
      {"image": "a.jpg", "digits": [{"box": [..], "digit": 2, "confidence": 0.99}], "numbers": [{"text": "2024", ..}],
       "reading": "2024"}
    "reading" is what a person reads: each line's digits left to right, lines top to bottom joined with "-".
    """
    from edgedigits.reader.predict import predict_images
    from edgedigits.training.kaggle import kaggle_submission

    if not paths and not kaggle:
        raise click.UsageError("give image files or folders (or --kaggle test.csv)")
    classifier = _load_model(model or (Path("seed") if kaggle else None), threads)  # Kaggle: the Kaggle CNN
    if kaggle:
        count = kaggle_submission(kaggle, output, classifier)
        click.echo(f"wrote {count:,} predictions to {output}", err=True)
        return
    collector = _collector(collect_dir, collect_below, collect_max_mb, classifier)
    predict_images(paths, classifier, click.echo, as_json=as_json, annotate_dir=annotate, min_confidence=min_confidence,
                   max_pixels=max_pixels, strict=strict, warn=lambda line: click.echo(line, err=True), page=page,
                   debug_dir=debug_dir, collector=collector)
    if collector:
        click.echo(f"collected {collector.saved} digits into {collect_dir / 'unlabelled'}", err=True)


def _address(value):
    """[HOST:]PORT, checked as the live server will read it (0 picks a free port)."""
    if value is None:
        return None
    from edgedigits.serving import parse_address

    try:
        host, port = parse_address(value)
    except EdgeDigitsError as exc:
        raise click.BadParameter(str(exc)) from None
    return f"{host}:{port}"


def _roi(value):
    if value is None:
        return None
    try:
        x, y, w, h = (int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("use x,y,w,h in pixels, e.g. 100,50,400,300") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise click.BadParameter("x, y must be >= 0 and w, h > 0")
    return (x, y, w, h)


@cli.command()
@click.option("--source", default="0", show_default=True,
              help="picam (Pi CSI camera via picamera2), a V4L2 index or /dev/videoN, a video file, an rtsp:// or "
              "http:// URL, or an image folder.")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None, help=MODEL_HELP)
@click.option("--json", "as_json", is_flag=True,
              help="One JSON line per frame: digits, numbers, fps and ms per stage (capture, preprocess, infer, total).")
@click.option("--show", is_flag=True, help="Open a window with the overlay (needs a desktop).")
@click.option("--serve", metavar="[HOST:]PORT", default=None, callback=lambda ctx, param, v: _address(v),
              help="Serve a live page (the view, the numbers, the last readings, timing), an MJPEG stream, JSON and "
              "Server-Sent Events over HTTP; binds 127.0.0.1 unless a host is given.")
@click.option("--token", default=None, metavar="TOKEN",
              help="Access token for --serve (?token=TOKEN). Bound beyond 127.0.0.1 without one, a token is generated "
              "and the URL that carries it is printed.")
@click.option("--mqtt", "mqtt_host", metavar="HOST[:PORT]", default=None,
              help="Publish each changed reading as JSON to edgedigits/NAME/state, availability to edgedigits/NAME/status "
              "(with a last will), and Home Assistant discovery. Needs edgedigits[mqtt].")
@click.option("--mqtt-name", default="camera", show_default=True, help="NAME in the topics (letters, digits, _ -).")
@click.option("--mqtt-user", default=None, help="Broker user name.")
@click.option("--mqtt-password", default=None, envvar="EDGEDIGITS_MQTT_PASSWORD",
              help="Broker password [default: $EDGEDIGITS_MQTT_PASSWORD].")
@click.option("--mqtt-tls", is_flag=True, help="Connect with TLS (port 8883 unless given).")
@click.option("--mqtt-cafile", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CA certificate for --mqtt-tls [default: the system's].")
@click.option("--record", type=click.Path(dir_okay=False), default=None, help="Write the annotated video (.mp4).")
@click.option("--roi", callback=lambda ctx, param, v: _roi(v), default=None, metavar="X,Y,W,H",
              help="Only look inside this rectangle (pixels).")
@click.option("--page", type=click.Choice(PAGE_MODES), default="auto", show_default=True, help=PAGE_HELP)
@click.option("--max-fps", type=click.FloatRange(min=0, min_open=True), default=None, help="Limit the frame rate.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after N frames.")
@click.option("--smooth", type=click.IntRange(min=1), default=5, show_default=True,
              help="Vote each digit's label over its last N frames (1 = off).")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0, show_default=True, help=CONFIDENCE_HELP)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads.")
@click.option("--debug", "debug_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write frame-N.debug.png for each frame read into this directory, as predict --debug does (each stage "
              "of the finder and why each candidate was dropped); only the latest --debug-frames stay. Slows the loop. "
              "With the motion gate on, only the frames it reads get one (--no-gate: every frame).")
@click.option("--debug-frames", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the latest frames' debug pictures --debug keeps.")
@click.option("--no-gate", is_flag=True,
              help="Read every frame whole. By default a frame that shows no change since the last one read keeps "
              "that reading, and a local change (a digit written, a hand) is read again only in its lines; camera "
              "shake and slow light changes count as no change. The JSON line says which: \"reread\": none, region, "
              "full.")
@click.option("--refresh", type=click.FloatRange(min=0), default=10.0, show_default=True, metavar="S",
              help="With the gate: read the whole frame at least every S seconds, so no misreading lasts.")
@collect_options
def camera(source, model, as_json, show, serve, token, mqtt_host, mqtt_name, mqtt_user, mqtt_password, mqtt_tls,
           mqtt_cafile, record, roi, max_fps, max_frames, smooth, min_confidence, threads, page, debug_dir,
           debug_frames, no_gate, refresh, collect_dir, collect_below, collect_max_mb):
    """Read handwritten digits from a camera or video, frame by frame.

    Headless by default. Reconnects with backoff when a live camera drops; Ctrl-C or SIGTERM releases it;
    SIGHUP loads the model in use again (after `edgedigits models use`). With --serve and --collect DIR, the
    live page has a "this reading is wrong" button (it collects every digit of the frame) and a Review tab.
    The end of a file exits 0 with a summary (frames, mean fps, digits per frame); a file or folder with no
    readable frame exits 1.
    """
    from edgedigits.reader.camera import CameraOptions, run
    from edgedigits.reader.outputs.mqtt import MqttOptions, check_name, parse_address

    mqtt = None
    if mqtt_host:
        try:
            host, port = parse_address(mqtt_host, mqtt_tls)
            mqtt = MqttOptions(host, port, check_name(mqtt_name), mqtt_user, mqtt_password, mqtt_tls, mqtt_cafile)
        except EdgeDigitsError as exc:
            raise click.BadParameter(str(exc)) from None

    options = CameraOptions(source=source, json_lines=as_json, show=show, serve=serve, token=token, record=record, roi=roi,
                            max_fps=max_fps, max_frames=max_frames, smooth=smooth, min_confidence=min_confidence,
                            mqtt=mqtt, page=page, debug=debug_dir, debug_frames=debug_frames, gate=not no_gate,
                            refresh=refresh)
    classifier = _load_model(model, threads)
    run(options, classifier, collector=_collector(collect_dir, collect_below, collect_max_mb, classifier),
        load=lambda: _load_model(model, threads))


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--serve", metavar="[HOST:]PORT", default="8090", show_default=True,
              callback=lambda ctx, param, v: _address(v),
              help="Where the review page listens; bound beyond loopback (0.0.0.0:8090) it needs a token, printed.")
@click.option("--token", default=None, metavar="TOKEN", help="The page's access token [default: one is made when bound "
              "beyond loopback].")
def label(folder, serve, token):
    """Label the digits --collect saved in FOLDER, on a page in your browser.

    \b
    The page shows each crop large, the 28x28 the model saw and its answer. Keys: 0-9 label, x not a digit,
    s skip, u undo, arrows move; the count of each class is on top. A label moves the crop's files from
    FOLDER/unlabelled to FOLDER/<digit> or FOLDER/not-a-digit: you can label by moving files too.
    Then: edgedigits train --init-from camera --user-data FOLDER --out runs/mine
    """
    from edgedigits.crops.review import serve as serve_page

    serve_page(folder, serve, token)


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="The list as one JSON object on stdout.")
@click.pass_context
def models(ctx, as_json):
    """The models there are, their figures, and the one in use (marked *).

    \b
    Bundled: camera (the default), seed, micro. Yours: what `edgedigits models use` made the default, kept in
    $EDGEDIGITS_HOME (default ~/.local/share/edgedigits). Each of your files is checked against its SHA-256
    when it loads; a damaged one is refused and the bundled camera model is used, saying so.
    """
    if ctx.invoked_subcommand is None:
        from edgedigits.export.promote import show

        show(click.echo, as_json=as_json)


@models.command("use")
@click.argument("target")
@click.option("--force", is_flag=True, help="Use a run even when its figures say it is not better.")
@click.option("--data", type=str, default=None, help=DATA_HELP)
def models_use(target, force, data):
    """Make TARGET the default model of predict, camera, bench and evaluate.

    \b
    TARGET is a run folder from `edgedigits train --init-from camera --user-data DIR --out runs/mine`: it is
    exported (int8 TFLite and ONNX, each verified) when its MNIST test accuracy fell at most 0.2 pp and your
    hold-out reads better than before (--force overrides). Or a model file exported elsewhere (mine.int8.tflite,
    mine.onnx: copy it to the Pi and use it there). Or camera: back to the bundled model.
    A running camera picks up a new model when restarted or sent SIGHUP (systemctl reload NAME).
    """
    from edgedigits.export.promote import use

    use(target, force=force, data=data)


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
    from edgedigits.export.convert import export
    from edgedigits.runtime.formats import parse_formats

    export(model, parse_formats(formats, int8=int8), out=out, calib_n=calib, verify_samples=verify_samples,
           min_agreement=min_agreement / 100, data=data, manifest_name=manifest, raise_on_failure=True)


def _int_list(ctx, param, value):
    try:
        items = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter("use comma-separated integers, e.g. 1,2") from None
    if not items or min(items) < 1:
        raise click.BadParameter("values must be positive integers")
    return items


def _runtimes(value):
    from edgedigits.runtime.backends import check_names

    try:
        return check_names([r.strip() for r in value.split(",")]) if value else None
    except EdgeDigitsError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.option("--model", default=None, metavar="NAME|FILES",
              help="A bundled model name (camera, seed, micro) or comma-separated model files [default: camera].")
@click.option("--formats", multiple=True, metavar="LIST", help="Formats to run [default: all seven].")
@click.option("--runtimes", default=None, metavar="LIST", callback=lambda ctx, param, v: _runtimes(v),
              help=f"Comma-separated: {', '.join(b.name for b in BACKENDS.values() if b.benched)} "
              "[default: all installed].")
@click.option("--threads", default="1,2", show_default=True, callback=_int_list, help="Thread counts to run.")
@click.option("--batch", default="1,64", show_default=True, callback=_int_list,
              help="Latency batch (must be 1) and throughput batch.")
@click.option("--runs", type=click.IntRange(min=1), default=100, show_default=True, help="Minimum timed runs.")
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True, help="Untimed runs first.")
@click.option("--min-time", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Minimum seconds of timed runs per row.")
@click.option("--samples", type=click.IntRange(min=1), default=10000, show_default=True,
              help="MNIST test digits for accuracy.")
@click.option("--pipeline", is_flag=True, help="Also time the camera pipeline (1, 5, 10, 20 digits per frame).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/bench"),
              show_default=True, help="Directory for bench.json, bench.csv, bench.md and bench.png.")
@click.option("--min-accuracy", type=click.FloatRange(0, 100), default=None,
              help="Accuracy floor in percent: exit 1 if any row that ran falls below it (a CI gate).")
@click.option("--data", type=str, default=None, help=DATA_HELP)
def bench(model, formats, runtimes, threads, batch, runs, warmup, min_time, samples, pipeline, out, min_accuracy,
          data):
    """Which file and runtime to put on a device: accuracy, size, load time, latency, throughput, memory.

    Runs every format from the formats table on every installed runtime, each (format, runtime, threads)
    in its own process. Formats missing from the bundle are exported into ~/.cache/edgedigits/exports
    (needs edgedigits[train]); a format that cannot run becomes a ❌ row.
    """
    from edgedigits.measure import bench as benchmark

    if len(batch) != 2 or batch[0] != 1:
        raise click.BadParameter("give --batch 1,N: latency is measured at batch 1", param_hint="--batch")
    options = benchmark.BenchOptions(formats=benchmark.bench_formats(formats),
                                     runtimes=runtimes,
                                     threads=threads, batches=batch, runs=runs, warmup=warmup, min_time=min_time,
                                     samples=samples, pipeline=pipeline,
                                     min_accuracy=None if min_accuracy is None else min_accuracy / 100)
    benchmark.run_and_report(options, out, model=model, data=data)


@cli.group()
def service():
    """Run the camera at boot as a systemd service (install, uninstall, status).

    \b
    Install the device set first, the versions checked on Raspberry Pi OS (64-bit), from a checkout:
      python3 -m venv --system-site-packages ~/edgedigits && . ~/edgedigits/bin/activate
      pip install --require-hashes -r edgedigits/device/pins/runtime-aarch64.txt
      pip install --no-deps .
    edgedigits doctor says when the installed versions differ from that set.
    """


def _unit_name(value):
    from edgedigits.device.service import check_unit_name

    try:
        return check_unit_name(value)
    except EdgeDigitsError as exc:
        raise click.BadParameter(str(exc)) from None


@service.command("install", context_settings={"ignore_unknown_options": True})
@click.option("--source", default="picam", show_default=True, help="Camera source, as for `edgedigits camera`.")
@click.option("--serve", metavar="[HOST:]PORT", default=None, callback=lambda ctx, param, v: _address(v),
              help="MJPEG preview address (127.0.0.1 unless given).")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None, help=MODEL_HELP)
@click.option("--user", default=None, help="Run as this user [default: the user who ran sudo].")
@click.option("--name", default="edgedigits", show_default=True, callback=lambda ctx, param, v: _unit_name(v),
              help="Service name (letters, digits, and : _ . - @).")
@click.option("--dry-run", is_flag=True, help="Print the unit file and change nothing.")
@click.argument("camera_args", nargs=-1, type=click.UNPROCESSED)
def service_install(source, serve, model, user, name, dry_run, camera_args):
    """Write /etc/systemd/system/NAME.service, enable it and start it.

    The camera starts at boot, restarts on failure, logs JSON lines to the journal (journalctl -u NAME) and
    runs as the invoking user, never root. Extra camera options go after --, e.g. -- --max-fps 10.
    """
    from edgedigits.device import service

    unit = service.unit_text(service.camera_command(source, serve, model, camera_args), user or service.invoking_user(),
                             name)
    if dry_run:
        click.echo(unit, nl=False)
        return
    path = service.install_service(unit, name)
    click.echo(f"installed and started {path}; logs: journalctl -u {name} -f", err=True)


@service.command("uninstall")
@click.option("--name", default="edgedigits", show_default=True, callback=lambda ctx, param, v: _unit_name(v))
def service_uninstall(name):
    """Stop and disable the service and remove its unit file."""
    from edgedigits.device import service

    service.uninstall_service(name)
    click.echo(f"removed {name}.service", err=True)


@service.command("status")
@click.option("--name", default="edgedigits", show_default=True, callback=lambda ctx, param, v: _unit_name(v))
def service_status(name):
    """Show systemd's status of the service (exit code as systemctl's)."""
    from edgedigits.device import service

    code, text = service.service_status(name)
    click.echo(text)
    sys.exit(code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def doctor(as_json):
    """What this device has: board, CPU features, runtimes, cameras, bundled models; and a fix for each problem.

    Exits 1 when a problem was found.
    """
    import json

    from edgedigits.console import table
    from edgedigits.device.doctor import doctor as diagnose

    report = diagnose()
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        table("edgedigits doctor", ["", ""], report.facts, numeric=False)
        for problem, fix in report.problems:
            click.echo(f"problem: {problem}\n  fix: {fix}", err=True)
        if not report.problems:
            click.echo("no problems found", err=True)
    if report.problems:
        sys.exit(1)


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: temporary files are removed on the way out


def main(argv: list[str] | None = None) -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    try:
        cli.main(args=argv, prog_name="edgedigits", standalone_mode=False)
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
