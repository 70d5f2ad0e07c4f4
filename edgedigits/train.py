"""Train a registered architecture on MNIST.

Recipe: the seed kernel's augmentation, Adam with a one-epoch warm-up then cosine decay, the best epoch
by validation accuracy kept. A checkpoint is written atomically after every epoch, so ``--resume``
continues after a kill. The data order and augmentation are pure functions of (seed, epoch, step),
so the same seed gives the same batches, resumed or not.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgedigits import data as mnist
from edgedigits.console import err, table
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import write_json
from edgedigits.preprocess import to_model_input


@dataclass
class TrainConfig:
    arch: str = "seed"
    epochs: int = 30
    batch_size: int = 86
    lr: float = 1e-3
    seed: int = 42
    val_split: float = 0.1
    augment: bool = True
    label_smoothing: float = 0.0
    mixed_precision: bool = False
    distribute: str = "auto"
    limit: int | None = None  # use only the first N training images (quick runs and tests)


STATE = "state.json"
LAST = "checkpoint/last.keras"
BEST = "checkpoint/best.weights.h5"


def make_strategy(kind: str):
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "none"
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise EdgeDigitsError("--distribute multiworker needs TF_CONFIG describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise EdgeDigitsError(f"unknown --distribute {kind!r}")


def split_train_val(images, labels, val_split: float, seed: int):
    """A fixed, seeded hold-out of the training set for picking the best epoch."""
    if not 0.0 <= val_split < 1.0:
        raise EdgeDigitsError(f"--val-split must be in [0, 1), got {val_split}")
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = int(round(len(images) * val_split))
    val, train = order[:n_val], order[n_val:]
    return (images[train], labels[train]), (images[val], labels[val])


def epoch_dataset(x, y, epoch: int, cfg: TrainConfig, steps: int):
    """The batches of one epoch: a seeded shuffle, then augmentation seeded by the global step."""
    import tensorflow as tf

    from edgedigits.augment import random_affine

    n = len(x)
    order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=[cfg.seed, epoch])
    # Several replicas need equal shares: drop the last partial batch then (steps was computed to match).
    ds = tf.data.Dataset.from_tensor_slices(order).batch(cfg.batch_size, drop_remainder=n // cfg.batch_size == steps)
    ds = tf.data.Dataset.zip(tf.data.Dataset.range(epoch * steps, (epoch + 1) * steps), ds)
    xs, ys = tf.constant(x), tf.constant(y.astype(np.int32))

    def load(step, idx):
        images = tf.gather(xs, idx)
        if cfg.augment:
            images = random_affine(images, tf.stack([tf.constant(cfg.seed, tf.int64), step]))
        return images, tf.gather(ys, idx)

    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def compile_model(model, cfg: TrainConfig, steps_per_epoch: int):
    import keras

    total = cfg.epochs * steps_per_epoch
    warmup = min(steps_per_epoch, total // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.lr * 0.1,
        decay_steps=max(1, total - warmup),
        alpha=0.0,
        warmup_target=cfg.lr,
        warmup_steps=warmup,
    )
    if cfg.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=["accuracy"])
    return model


def _onehot(ds, use):
    import tensorflow as tf

    return ds.map(lambda x, y: (x, tf.one_hot(y, 10))) if use else ds


def train(cfg: TrainConfig, out: Path, data: str | None = None, resume: bool = False, verbose: int | None = None):
    """Run (or resume) training into ``out``; returns (path of the final model.keras, the dataset, the run state)."""
    from edgedigits import models
    from edgedigits.deps import tensorflow

    tf = tensorflow()
    import keras

    started = time.time()
    out = Path(out)
    state_path = out / STATE
    state = None
    if resume:
        if not state_path.is_file():
            raise EdgeDigitsError(f"nothing to resume in {out} (no {STATE}); start without --resume")
        state = json.loads(state_path.read_text())
        cfg = TrainConfig(**state["config"])
        err.print(f"resuming {out} after epoch {state['epoch']} of {cfg.epochs}")
    elif state_path.exists():
        raise EdgeDigitsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if cfg.arch not in models.ARCHS:
        raise EdgeDigitsError(f"unknown architecture {cfg.arch!r}; choose from {', '.join(models.ARCHS)}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise EdgeDigitsError("--epochs and --batch-size must be at least 1")

    ds = mnist.load(data)
    train_split = ds.split("train")
    images, labels = train_split.images, train_split.labels
    if cfg.limit:
        images, labels = images[: cfg.limit], labels[: cfg.limit]
    (x_train, y_train), (x_val, y_val) = split_train_val(images, labels, cfg.val_split, cfg.seed)
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    try:
        if cfg.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        return _fit(cfg, out, ds, state, x_train, y_train, x_val, y_val, started, verbose)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _fit(cfg, out, ds, state, x_train, y_train, x_val, y_val, started, verbose):
    """The training loop proper (under the dtype policy the caller set)."""
    import keras

    from edgedigits import models
    from edgedigits.deps import tensorflow

    tf = tensorflow()
    state_path = out / STATE
    strategy = make_strategy(cfg.distribute)
    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size < replicas:
        raise EdgeDigitsError(f"--batch-size {cfg.batch_size} is smaller than the {replicas} replicas")
    if replicas > 1:  # equal shares for every replica
        x_val, y_val = x_val[: len(x_val) - len(x_val) % replicas], y_val[: len(y_val) - len(y_val) % replicas]
        steps = len(x_train) // cfg.batch_size
    else:
        steps = math.ceil(len(x_train) / cfg.batch_size)
    if steps < 1:
        raise EdgeDigitsError(f"{len(x_train)} training images are fewer than one batch of {cfg.batch_size}")
    x_train, x_val = to_model_input(x_train), to_model_input(x_val)
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoint").mkdir(exist_ok=True)
    with strategy.scope():
        if state and state["epoch"] > 0 and (out / LAST).is_file():
            model = keras.models.load_model(out / LAST)
        else:  # a new run, or one killed before its first epoch ended
            model = compile_model(models.build(cfg.arch), cfg, steps)
    onehot = cfg.label_smoothing > 0
    if state is None:
        state = {"config": asdict(cfg), "epoch": 0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": {}}
        write_json(state_path, state)

    if verbose is None:
        verbose = 1 if sys.stderr.isatty() else 2
    val_ds = None
    if len(x_val):
        val_ds = _onehot(tf.data.Dataset.from_tensor_slices((x_val, y_val.astype(np.int32))).batch(512), onehot)
    err.print(
        f"training {cfg.arch} ({model.count_params():,} params) on {len(x_train):,} images, "
        f"validating on {len(x_val):,}; {cfg.epochs} epochs of {steps} steps; {replicas} replica(s)"
    )
    for epoch in range(state["epoch"], cfg.epochs):
        err.print(f"epoch {epoch + 1}/{cfg.epochs}")
        result = model.fit(
            _onehot(epoch_dataset(x_train, y_train, epoch, cfg, steps), onehot),
            validation_data=val_ds,
            epochs=1,
            shuffle=False,  # the order is already a seeded shuffle
            verbose=verbose,
        )
        for key, values in result.history.items():
            state["history"].setdefault(key, []).append(float(values[-1]))
        state["history"].setdefault("lr", []).append(float(model.optimizer.learning_rate))
        score = float(result.history.get("val_accuracy", result.history["accuracy"])[-1])
        if score > state["best_val_accuracy"]:
            model.save_weights(out / "checkpoint" / "best.tmp.weights.h5")
            os.replace(out / "checkpoint" / "best.tmp.weights.h5", out / BEST)
            state["best_val_accuracy"], state["best_epoch"] = score, epoch + 1
        model.save(out / "checkpoint" / "last.tmp.keras")
        os.replace(out / "checkpoint" / "last.tmp.keras", out / LAST)
        state["epoch"] = epoch + 1
        state.setdefault("train_seconds", 0.0)
        state["train_seconds"] += time.time() - started
        started = time.time()
        write_json(state_path, state)

    keras.mixed_precision.set_global_policy("float32")  # the shipped model is float32 whatever was trained
    final = models.build(cfg.arch)  # float32, uncompiled: no optimizer state in the shipped file
    model.load_weights(out / BEST)
    final.set_weights(model.get_weights())
    tmp = out / "model.tmp.keras"
    final.save(tmp)
    os.replace(tmp, out / "model.keras")
    write_json(out / "history.json", state["history"])
    return out / "model.keras", ds, state


def finish(out: Path, ds, state, argv: list[str]) -> dict:
    """Evaluate the kept model on the test set, write metrics.json and the plots, print a summary."""
    import keras

    from edgedigits import evaluate, plots

    started = time.time()
    model = keras.models.load_model(out / "model.keras", compile=False)
    test = ds.test if ds.test is not None and ds.test.labels is not None else None
    metrics = {"model": "model.keras", "arch": state["config"]["arch"], "params": model.count_params()}
    if test is not None:
        probs = evaluate.predict_keras(model, test.images)
        report = evaluate.classification_report(test.labels, probs.argmax(1))
        metrics.update(report)
        plots.confusion(np.array(report["confusion"]), out / "confusion.png")
        plots.errors(test.images, test.labels, probs, out / "errors.png")
        evaluate.print_report(report, title=f"{out / 'model.keras'} on the MNIST test set")
    else:
        err.print("[yellow]no labelled test split in the data: test metrics skipped[/]")
    plots.curves(state["history"], out / "curves.png")
    plots.class_counts(ds.split("train").labels, test.labels if test else None, out / "class_counts.png")
    metrics.update(
        {
            "best_epoch": state["best_epoch"],
            "best_val_accuracy": state["best_val_accuracy"],
            "epochs": state["epoch"],
            "config": state["config"],
            "data": {"source": ds.source, "md5": ds.md5, "official_mnist": ds.verified},
            "versions": evaluate.library_versions(),
            "command": " ".join(["edgedigits", *argv]),
            "git_commit": evaluate.git_commit(),
            "train_seconds": round(state.get("train_seconds", 0.0), 1),
            "wall_seconds": round(state.get("train_seconds", 0.0) + time.time() - started, 1),
        }
    )
    write_json(out / "metrics.json", metrics)
    rows = [
        ("test accuracy", f"{metrics['accuracy'] * 100:.2f}%" if test else "n/a"),
        ("best epoch", f"{state['best_epoch']} (val accuracy {state['best_val_accuracy'] * 100:.2f}%)"),
        ("parameters", f"{metrics['params']:,}"),
        ("train time", f"{metrics['train_seconds']:.0f} s"),
        ("files", ", ".join(p.name for p in sorted(out.glob("*")) if p.is_file())),
    ]
    table(f"run {out}", ["", ""], rows)
    return metrics


def copy_run_as_bundled(out: Path, name: str, dest: Path) -> None:
    """Copy a finished run into the package as ``NAME.keras`` + ``NAME.metrics.json`` + plots."""
    shutil.copyfile(out / "model.keras", dest / f"{name}.keras")
    shutil.copyfile(out / "metrics.json", dest / f"{name}.metrics.json")
    for png in out.glob("*.png"):
        shutil.copyfile(png, dest / f"{name}.{png.name}")
