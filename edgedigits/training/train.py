"""Train an architecture (``training.architectures``) on MNIST.

Recipes: "seed" is the Kaggle kernel's affine augmentation; "camera" adds, before it, the camera-like crops
and the not-a-digit class of ``training.degrade`` and ``training.junk``. Both use Adam with a one-epoch warm-up then cosine decay,
and keep the best epoch by validation accuracy. A checkpoint is written atomically after every epoch, so ``--resume``
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

from edgedigits import environment
from edgedigits.console import err, table
from edgedigits.deps import keras_backend
from edgedigits.digit import DIGITS, to_model_input
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_path, sha256, write_json
from edgedigits.runtime.bundled import BUNDLED_DIR, resolve
from edgedigits.runtime.keras_file import load_keras
from edgedigits.training import architectures, evaluate, mnist, plots
from edgedigits.training.augment import random_affine
from edgedigits.training.epochs import junk_count, start_camera_epoch

DEFAULT_EPOCHS = 30


@dataclass
class TrainConfig:
    arch: str = "seed"
    recipe: str | None = None  # "seed" or "camera"; None: the architecture's own
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 86
    lr: float = 1e-3
    seed: int = 42
    val_split: float = 0.1
    val_seed: int | None = None  # the hold-out's own seed (its split and crops); None: --seed
    augment: bool = True
    label_smoothing: float = 0.0
    mixed_precision: bool = False
    distribute: str = "auto"
    limit: int | None = None  # use only the first N training images (quick runs and tests)
    init_from: str | None = None  # fine-tune: start from this .keras model's weights (same architecture)
    teacher: str | None = None  # distil: a trained model whose softened answers make part of each target
    distill: float = 0.5  # the teacher's share of each target (the rest is the true label)
    user_data: str | None = None  # a crops folder (``crops.folder``): its labelled crops are mixed into each epoch
    user_holdout: float = 0.2  # the latest share of each class of those crops, never trained on
    wise: float = 1.0  # fine-tune: the learned weights' share of the shipped model, the rest the --init-from ones


STATE = "state.json"
LAST = "checkpoint/last.keras"  # the names of runs made before per-epoch checkpoints
LAST_EPOCH = "checkpoint/last-{epoch}.keras"
BEST_EPOCH = "checkpoint/best-{epoch}.weights.h5"
VAL_EPOCH = 1_000_000  # the camera recipe's validation crops are drawn once, from an epoch no run reaches
USER_SHARE = 0.3  # the user's crops (each repeated, each repeat through a fresh affine) make 30% of an epoch; the
                  # rest is MNIST replay, so that what the model knew is not forgotten
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


TEMPERATURE = 2.0  # softens the teacher's answers, so its view of the runner-up classes carries (Hinton et al., 2015)


def soft_targets(cfg: TrainConfig) -> bool:
    """Whether targets are probability rows (label smoothing, distillation) rather than class indices."""
    return cfg.label_smoothing > 0 or bool(cfg.teacher)


def distilled(y: np.ndarray, teacher_probs: np.ndarray, share: float) -> np.ndarray:
    """One-hot targets mixed with the teacher's probabilities at ``TEMPERATURE`` (a softmax of logits / T is
    p ** (1 / T), renormalised). A 10-class teacher of an 11-class student gives "not a digit" no share of a
    digit's target, and leaves the junk crops, which it cannot judge, their own label."""
    soft = np.power(np.clip(teacher_probs.astype(np.float64), 1e-12, 1.0), 1.0 / TEMPERATURE)
    soft /= soft.sum(axis=1, keepdims=True)
    if soft.shape[1] < y.shape[1]:
        soft = np.pad(soft, ((0, 0), (0, y.shape[1] - soft.shape[1])))
        junk = y[:, DIGITS:].any(axis=1)
        soft[junk] = y[junk]
    return ((1.0 - share) * y + share * soft).astype(np.float32)


def targets(labels: np.ndarray, classes: int, onehot: bool) -> np.ndarray:
    """Class indices, or one-hot rows when soft targets (label smoothing, distillation) need them."""
    labels = labels.astype(np.int32)
    return np.eye(classes, dtype=np.float32)[labels] if onehot else labels


def hold_out_seed(cfg: TrainConfig) -> int:
    """The seed of the validation hold-out: --val-seed, so that a fine-tune with a new --seed (new batches)
    can still be judged on the hold-out the model it starts from never trained on; else --seed."""
    return cfg.seed if cfg.val_seed is None else cfg.val_seed


def camera_arrays(x, y, seed: int, epoch: int, cfg: TrainConfig, classes: int, executor=None):
    """Start one epoch of the camera recipe drawn from (seed, epoch) (``crops.start_camera_epoch``, augmentation
    included); returns a function that waits for its crops and gives them in a seeded order, with their targets."""
    drawn = start_camera_epoch(x, y, seed, epoch, executor)

    def arrays():
        images, labels = drawn()
        order = np.random.default_rng([seed, epoch]).permutation(len(images))
        return to_model_input(images[order]), targets(labels[order], classes, soft_targets(cfg))

    return arrays


def epoch_dataset(x, y, epoch: int, cfg: TrainConfig, steps: int):
    """The seed recipe's batches of one epoch: a seeded shuffle, then augmentation seeded by the global step."""
    import tensorflow as tf

    n = len(x)
    order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=[cfg.seed, epoch])
    # Several replicas need equal shares: drop the last partial batch then (steps was computed to match).
    ds = tf.data.Dataset.from_tensor_slices(order).batch(cfg.batch_size, drop_remainder=n // cfg.batch_size == steps)
    ds = tf.data.Dataset.zip(tf.data.Dataset.range(epoch * steps, (epoch + 1) * steps), ds)
    xs, ys = tf.constant(x), tf.constant(y)

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
    if soft_targets(cfg):
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=["accuracy"])
    return model


def train(cfg: TrainConfig, out: Path, data: str | None = None, resume: bool = False, verbose: int | None = None,
          epochs_given: int | None = None):
    """Run (or resume) training into ``out``; returns (path of the final model.keras, the dataset, the run state).
    A resumed run keeps its own configuration; ``epochs_given`` (an explicit --epochs) must agree with it."""
    backend = keras_backend()
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
        if epochs_given is not None and epochs_given != cfg.epochs:
            raise EdgeDigitsError(f"{out} was set up for {cfg.epochs} epochs: its learning rate decays to 0 there, so "
                                  f"--epochs {epochs_given} cannot continue it; start a new run with --out")
        err.print(f"resuming {out} after epoch {state['epoch']} of {cfg.epochs}")
    elif state_path.exists():
        raise EdgeDigitsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if cfg.arch not in architectures.ARCHS:
        raise EdgeDigitsError(f"unknown architecture {cfg.arch!r}; choose from {', '.join(architectures.ARCHS)}")
    cfg.recipe = cfg.recipe or architectures.ARCHS[cfg.arch].recipe
    if cfg.recipe not in architectures.RECIPES:
        raise EdgeDigitsError(f"unknown recipe {cfg.recipe!r}; choose from {', '.join(architectures.RECIPES)}")
    if cfg.recipe == "camera" and architectures.ARCHS[cfg.arch].classes == DIGITS:
        raise EdgeDigitsError(f"the camera recipe needs an 11-class architecture (camera, micro), not {cfg.arch}")
    if cfg.recipe == "camera" and not cfg.augment:
        raise EdgeDigitsError("the camera recipe is its augmentation: --no-augment goes with --recipe seed")
    for option, name in (("--init-from", cfg.init_from), ("--teacher", cfg.teacher)):
        if name and not resolve(name, ".keras").is_file():
            raise EdgeDigitsError(f"{option}: no model file {name!r} (a .keras file, or camera, seed, micro)")
    if cfg.teacher and cfg.recipe != "camera":
        raise EdgeDigitsError("--teacher goes with the camera recipe (its crops are drawn before each epoch)")
    if not 0.0 <= cfg.distill <= 1.0:
        raise EdgeDigitsError(f"--distill must be in [0, 1], got {cfg.distill}")
    if not 0.0 < cfg.wise <= 1.0 or (cfg.wise < 1.0 and not cfg.init_from):
        raise EdgeDigitsError(f"--wise must be in (0, 1] and goes with --init-from, got {cfg.wise}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise EdgeDigitsError("--epochs and --batch-size must be at least 1")
    user = None
    if cfg.user_data:
        if cfg.recipe != "camera":
            raise EdgeDigitsError("--user-data goes with the camera recipe (an 11-class model: --arch camera or "
                                  "micro, --init-from camera)")
        user, held = user_split(cfg)
        err.print(f"{len(user) + len(held)} labelled crops in {cfg.user_data}: {len(user)} to train on, "
                  f"{len(held)} held out")
        if not len(user):
            raise EdgeDigitsError(f"{cfg.user_data}: every crop is held out; label more, or lower --user-holdout")

    ds = mnist.load(data)
    train_split = ds.split("train")
    images, labels = train_split.images, train_split.labels
    if cfg.limit:
        images, labels = images[: cfg.limit], labels[: cfg.limit]
    (x_train, y_train), (x_val, y_val) = split_train_val(images, labels, cfg.val_split, hold_out_seed(cfg))
    if backend != "tensorflow" and (cfg.recipe != "camera" or cfg.distribute not in ("auto", "none")):
        raise EdgeDigitsError(f"on the {backend} backend only the camera recipe on one device trains "
                              "(the seed recipe and --distribute use TensorFlow)")
    keras.utils.set_random_seed(cfg.seed)
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    try:
        if cfg.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        return _fit(cfg, out, ds, state, x_train, y_train, x_val, y_val, started, verbose, user)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def user_split(cfg: TrainConfig):
    """The user's labelled crops of --user-data: (to train on, held out)."""
    from edgedigits.crops import dataset

    return dataset.hold_out(dataset.load(Path(cfg.user_data), warn=err.print), cfg.user_holdout)


def user_repeats(user, mnist_per_epoch: int) -> int:
    """How many times each user crop appears in an epoch, for the user's crops to make ``USER_SHARE`` of it."""
    if user is None or not len(user):
        return 0
    return max(1, round(USER_SHARE / (1 - USER_SHARE) * mnist_per_epoch / len(user)))


def with_user(x, y, user, repeats: int, cfg: TrainConfig, epoch: int, classes: int):
    """One epoch's arrays with the user's crops added, each repeat through its own affine, all shuffled anew."""
    from edgedigits.training.augment import affine

    rng = np.random.default_rng([cfg.seed, epoch, 24])
    images = np.stack([affine(img, rng) for img in np.repeat(user.digits, repeats, axis=0)])
    labels = targets(np.repeat(user.labels, repeats), classes, soft_targets(cfg))
    x, y = np.concatenate([x, to_model_input(images)]), np.concatenate([y, labels])
    order = rng.permutation(len(x))
    return x[order], y[order]


def _fit(cfg, out, ds, state, x_train, y_train, x_val, y_val, started, verbose, user=None):
    """The training loop proper (under the dtype policy the caller set)."""
    import contextlib
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    import keras

    state_path = out / STATE
    strategy = make_strategy(cfg.distribute) if keras.backend.backend() == "tensorflow" else None
    replicas = strategy.num_replicas_in_sync if strategy else 1
    if cfg.batch_size < replicas:
        raise EdgeDigitsError(f"--batch-size {cfg.batch_size} is smaller than the {replicas} replicas")
    classes = architectures.ARCHS[cfg.arch].classes
    onehot = soft_targets(cfg)
    if cfg.recipe == "camera" and len(x_val):
        x_val, y_val = camera_arrays(x_val, y_val, hold_out_seed(cfg), VAL_EPOCH, cfg, classes)()
    else:
        x_val, y_val = to_model_input(x_val), targets(y_val, classes, onehot)
    if cfg.recipe != "camera":
        x_train, y_train = to_model_input(x_train), targets(y_train, classes, onehot)
    per_epoch = len(x_train) + (junk_count(len(x_train)) if cfg.recipe == "camera" else 0)
    repeats = user_repeats(user, per_epoch)
    per_epoch += repeats * (len(user) if user is not None else 0)
    if replicas > 1:  # equal shares for every replica
        x_val, y_val = x_val[: len(x_val) - len(x_val) % replicas], y_val[: len(y_val) - len(y_val) % replicas]
        steps = per_epoch // cfg.batch_size
    else:
        steps = math.ceil(per_epoch / cfg.batch_size)
    if steps < 1:
        raise EdgeDigitsError(f"{len(x_train)} training images are fewer than one batch of {cfg.batch_size}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoint").mkdir(exist_ok=True)
    with strategy.scope() if strategy else contextlib.nullcontext():
        if state and state["epoch"] > 0 and (out / state.get("last", LAST)).is_file():
            model = keras.models.load_model(out / state.get("last", LAST))
            for variable, value in zip(_seed_states(model), state.get("rng", [])):  # .keras files drop them
                variable.assign(np.array(value, dtype=variable.dtype))
        else:  # a new run, or one killed before its first epoch ended
            model = compile_model(architectures.build(cfg.arch), cfg, steps)
            if cfg.init_from:
                model.set_weights(_init_weights(model, cfg))
    if state is None:
        state = {"config": asdict(cfg), "epoch": 0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": {},
                 **_init_record("init_from", cfg.init_from), **_init_record("teacher", cfg.teacher)}
        write_json(state_path, state)

    if verbose is None:
        verbose = 1 if sys.stderr.isatty() else 2
    err.print(
        f"training {cfg.arch} ({model.count_params():,} params, {cfg.recipe} recipe) on {per_epoch:,} images, "
        f"validating on {len(x_val):,}; {cfg.epochs} epochs of {steps} steps; {replicas} replica(s)"
    )
    # The camera recipe's crops are drawn on every core (spawned: the trainer's threads are not forked).
    workers = os.cpu_count() or 1
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if cfg.recipe == "camera" and workers > 1 \
        else None
    with contextlib.ExitStack() as stack:
        if pool:  # on the way out, drop the next epoch's crops rather than wait for them
            stack.callback(pool.shutdown, cancel_futures=True)
        _epochs(model, cfg, out, state, x_train, y_train, x_val, y_val, classes, steps, started, verbose, pool,
                _teacher(cfg, classes), user, repeats)
    keras.mixed_precision.set_global_policy("float32")  # the shipped model is float32 whatever was trained
    final = architectures.build(cfg.arch)  # float32, uncompiled: no optimizer state in the shipped file
    model.load_weights(out / state.get("best", BEST))
    final.set_weights(shipped_weights(model.get_weights(), cfg, final))
    with atomic_path(out / "model.keras") as tmp:
        final.save(tmp)
    write_json(out / "history.json", state["history"])
    return out / "model.keras", ds, state


def shipped_weights(learned: list, cfg: TrainConfig, model) -> list:
    """The weights to ship: those learned, or with ``--wise`` below 1 a weighted average of them and the
    ``--init-from`` weights (WiSE-FT, Wortsman et al., 2022). The average keeps more of what the start model read
    while keeping most of what the fine-tune taught it."""
    if not cfg.init_from or cfg.wise >= 1.0:
        return learned
    start = _init_weights(model, cfg)
    return [cfg.wise * w + (1 - cfg.wise) * s if np.issubdtype(w.dtype, np.floating) else w
            for w, s in zip(learned, start)]


def _teacher(cfg: TrainConfig, classes: int):
    """The --teacher model, which must answer over the same classes, or over the 10 digits alone (the Kaggle
    CNN teaching a camera model: it teaches the digits, and the junk keeps its label)."""
    if not cfg.teacher:
        return None
    path = resolve(cfg.teacher, ".keras")
    teacher = load_keras(path)
    if teacher.output_shape[-1] not in (classes, DIGITS):
        raise EdgeDigitsError(f"--teacher {path} answers over {teacher.output_shape[-1]} classes; "
                              f"{cfg.arch} has {classes}")
    return teacher


def _epochs(model, cfg, out, state, x_train, y_train, x_val, y_val, classes, steps, started, verbose, pool,
            teacher=None, user=None, repeats=0):
    """Train the remaining epochs, keeping the best weights and a checkpoint after each. The camera recipe's
    next epoch is drawn on the pool while this one trains."""
    def draw(epoch):
        return camera_arrays(x_train, y_train, cfg.seed, epoch, cfg, classes, pool) if epoch < cfg.epochs else None

    upcoming = draw(state["epoch"]) if cfg.recipe == "camera" else None
    for epoch in range(state["epoch"], cfg.epochs):
        err.print(f"epoch {epoch + 1}/{cfg.epochs}")
        if cfg.recipe == "camera":
            x, y = upcoming()
            upcoming = draw(epoch + 1)
            if teacher is not None:
                y = distilled(y, teacher.predict(x, batch_size=512, verbose=0), cfg.distill)
            if repeats:
                x, y = with_user(x, y, user, repeats, cfg, epoch, classes)
            data = {"x": x, "y": y, "batch_size": cfg.batch_size}
        else:
            data = {"x": epoch_dataset(x_train, y_train, epoch, cfg, steps)}
        result = model.fit(
            **data,
            validation_data=(x_val, y_val) if len(x_val) else None,
            validation_batch_size=512,
            epochs=1,
            shuffle=False,  # the order is already a seeded shuffle
            verbose=verbose,
        )
        for key, values in result.history.items():
            state["history"].setdefault(key, []).append(float(values[-1]))
        state["history"].setdefault("lr", []).append(float(model.optimizer.learning_rate))
        score = float(result.history.get("val_accuracy", result.history["accuracy"])[-1])
        # Each epoch's checkpoint gets its own files; writing state.json, which names them, is the one step that
        # commits the epoch. A kill before it leaves the previous epoch's state, files and RNG whole.
        if score > state["best_val_accuracy"]:
            state["best"] = BEST_EPOCH.format(epoch=epoch + 1)
            with atomic_path(out / state["best"]) as tmp:
                model.save_weights(tmp)
            state["best_val_accuracy"], state["best_epoch"] = score, epoch + 1
        state["last"] = LAST_EPOCH.format(epoch=epoch + 1)
        with atomic_path(out / state["last"]) as tmp:
            model.save(tmp)
        state["rng"] = [np.asarray(v).tolist() for v in _seed_states(model)]  # dropout's seeds, where they are
        state["epoch"] = epoch + 1
        state.setdefault("train_seconds", 0.0)
        state["train_seconds"] += time.time() - started
        started = time.time()
        write_json(out / STATE, state)
        for stale in (out / "checkpoint").iterdir():  # files of earlier epochs, and of an uncommitted one
            if stale.name not in (Path(state["last"]).name, Path(state.get("best", BEST)).name):
                stale.unlink(missing_ok=True)


def _init_weights(model, cfg: TrainConfig) -> list:
    """The weights of ``--init-from``, checked against the model being trained, layer shape by layer shape."""
    path = resolve(cfg.init_from, ".keras")
    source = load_keras(path).get_weights()
    shapes = [w.shape for w in model.get_weights()]
    if [w.shape for w in source] != shapes:
        raise EdgeDigitsError(f"--init-from {path}: its weights do not fit the {cfg.arch} architecture "
                              f"({len(source)} arrays, {len(shapes)} expected, or other shapes)")
    return source


def _seed_states(model) -> list:
    """The dropout layers' random-generator states: model variables that ``model.save`` leaves out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def finish(out: Path, ds, state, argv: list[str]) -> dict:
    """Evaluate the kept model on the test set, write metrics.json and the plots, print a summary."""
    import keras

    started = time.time()
    model = keras.models.load_model(out / "model.keras", compile=False)
    test = ds.test if ds.test is not None and ds.test.labels is not None else None
    metrics = {"model": "model.keras", "arch": state["config"]["arch"], "params": model.count_params(),
               "backend": keras.backend.backend()}
    if test is not None:
        probs = evaluate.predict_keras(model, test.images)
        report = evaluate.classification_report(test.labels, probs)
        metrics.update(report)
        plots.confusion(np.array(report["confusion"]), out / "confusion.png")
        plots.errors(test.images, test.labels, probs, out / "errors.png")
        evaluate.print_report(report, title=f"{out / 'model.keras'} on the MNIST test set")
    else:
        err.print("[yellow]no labelled test split in the data: test metrics skipped[/]")
    if state["config"].get("user_data"):
        metrics.update(user_metrics(TrainConfig(**state["config"]), model, test))
    plots.curves(state["history"], out / "curves.png")
    plots.class_counts(ds.split("train").labels, test.labels if test else None, out / "class_counts.png")
    metrics.update(
        {
            "best_epoch": state["best_epoch"],
            "best_val_accuracy": state["best_val_accuracy"],
            "epochs": state["epoch"],
            "config": state["config"],
            "data": {"source": ds.source, "md5": ds.md5, "official_mnist": ds.verified},
            **{key: state[key] for key in ("init_from", "teacher") if key in state},
            "versions": environment.library_versions(),
            "command": " ".join(["edgedigits", *argv]),
            "git_commit": environment.git_commit(),
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


def user_metrics(cfg: TrainConfig, model, test) -> dict:
    """The user's hold-out and MNIST test, before (the --init-from model) and after (``model``), per class."""
    _, held = user_split(cfg)
    before = load_keras(resolve(cfg.init_from, ".keras")) if cfg.init_from else None
    found = {"user": {"data": cfg.user_data, "holdout": len(held)}}
    for name, judged in (("before", before), ("after", model)):
        if judged is None:
            continue
        if len(held):
            report = evaluate.classification_report(held.labels, evaluate.predict_keras(judged, held.digits))
            found["user"][name] = {"accuracy": report["accuracy"],
                                   "recall": {c["digit"]: c["recall"] for c in report["per_class"] if c["support"]}}
        if test is not None and name == "before":
            found["mnist_before"] = float((evaluate.predict_keras(judged, test.images).argmax(1)
                                           == test.labels).mean())
    if "before" in found["user"]:
        err.print(f"user hold-out ({len(held)} crops): {found['user']['before']['accuracy'] * 100:.2f}% before, "
                  f"{found['user']['after']['accuracy'] * 100:.2f}% after")
    return found


def _init_record(key: str, name: str | None) -> dict:
    """Which model a run started from or learned from: the file and its SHA-256, under ``key``."""
    if not name:
        return {}
    path = resolve(name, ".keras")
    return {key: {"path": str(path), "sha256": sha256(path)}}


def run(cfg: TrainConfig, out: Path, argv: list[str], data: str | None = None, resume: bool = False,
        bundle: bool = False, epochs_given: int | None = None) -> dict:
    """``edgedigits train``: train (or resume), evaluate and plot; with ``bundle``, copy the run into the package
    as the bundled model of its architecture. Returns the metrics."""
    _, dataset, state = train(cfg, out, data=data, resume=resume, epochs_given=epochs_given)
    metrics = finish(out, dataset, state, argv)
    if bundle:
        copy_run_as_bundled(out, state["config"]["arch"], BUNDLED_DIR)
    return metrics


def copy_run_as_bundled(out: Path, name: str, dest: Path) -> None:
    """Copy a finished run into the package as ``NAME.keras`` + ``NAME.metrics.json`` + plots."""
    shutil.copyfile(out / "model.keras", dest / f"{name}.keras")
    shutil.copyfile(out / "metrics.json", dest / f"{name}.metrics.json")
    for png in out.glob("*.png"):
        shutil.copyfile(png, dest / f"{name}.{png.name}")
