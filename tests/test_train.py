import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from edgedigits.errors import EdgeDigitsError
from edgedigits.training.train import TrainConfig, finish, split_train_val, train
from tests.helpers import DATA, ROOT


def test_tiny_run_outputs(tiny_run, mnist, tmp_path):
    model_path, state = tiny_run
    out = model_path.parent
    metrics = finish(out, mnist, state, ["train", "--limit", "2000"])
    assert metrics["params"] == 887_530
    assert 0.5 < metrics["accuracy"] <= 1.0  # one epoch on 1,800 images already learns something
    assert len(metrics["per_class"]) == 10 and sum(c["support"] for c in metrics["per_class"]) == 10000
    assert np.array(metrics["confusion"]).sum() == 10000
    assert metrics["data"]["official_mnist"] and metrics["data"]["md5"]["t10k-images-idx3-ubyte"]
    assert {"python", "numpy", "keras"} <= metrics["versions"].keys()
    assert metrics["command"].startswith("edgedigits train")
    for name in ("model.keras", "history.json", "metrics.json", "curves.png", "confusion.png", "errors.png",
                 "class_counts.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 1 and len(history["val_accuracy"]) == 1


def test_shipped_model_has_no_optimizer_state(tiny_run):
    import keras

    model = keras.models.load_model(tiny_run[0])
    assert getattr(model, "optimizer", None) is None
    assert tiny_run[0].stat().st_size < (tiny_run[0].parent / tiny_run[1]["last"]).stat().st_size / 2


@pytest.mark.mnist
def test_same_seed_same_weights(tmp_path):
    cfg = TrainConfig(arch="micro", epochs=1, batch_size=50, limit=400, distribute="none", seed=3)
    a, _, _ = train(cfg, tmp_path / "a", data=DATA, verbose=0)
    b, _, _ = train(cfg, tmp_path / "b", data=DATA, verbose=0)
    import keras

    wa = keras.models.load_model(a).get_weights()
    wb = keras.models.load_model(b).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb))


@pytest.mark.mnist
def test_existing_run_needs_resume(tmp_path):
    (tmp_path / "state.json").write_text("{}")
    with pytest.raises(EdgeDigitsError, match="--resume"):
        train(TrainConfig(arch="micro", epochs=1, limit=100), tmp_path, data=DATA, verbose=0)
    with pytest.raises(EdgeDigitsError, match="nothing to resume"):
        train(TrainConfig(arch="micro", epochs=1, limit=100), tmp_path / "empty", data=DATA, resume=True)


def test_val_split_is_seeded_and_disjoint():
    images = np.random.default_rng(0).integers(0, 256, (100, 28, 28), dtype=np.uint8)
    labels = np.arange(100) % 10
    (tx, ty), (vx, vy) = split_train_val(images, labels, 0.2, seed=1)
    (tx2, _), _ = split_train_val(images, labels, 0.2, seed=1)
    assert len(vx) == 20 and len(tx) == 80
    np.testing.assert_array_equal(tx, tx2)
    assert not set(map(bytes, tx)) & set(map(bytes, vx))


def _epochs_done(out):
    try:
        return json.loads((out / "state.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def _kill_after_first_epoch(args, out):
    """Start a training run and SIGKILL it (with its workers) once its first epoch is committed."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while _epochs_done(out) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.mnist
def test_resume_after_kill_continues_from_saved_epoch(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "edgedigits", "train", "--arch", "micro", "--epochs", "3", "--limit", "3000",
            "--batch-size", "32", "--distribute", "none", "--out", str(out)]
    _kill_after_first_epoch(args, out)
    done = _epochs_done(out)
    assert 1 <= done < 3, f"the run should have been killed mid-way, state says epoch {done}"
    before = json.loads((out / "state.json").read_text())["history"]
    assert not (out / "model.keras").exists()

    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming {out} after epoch {done}" in " ".join(resumed.stderr.split())
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 3
    assert history["loss"][:done] == before["loss"][:done]  # nothing recomputed, nothing lost
    assert (out / "metrics.json").exists()


@pytest.mark.mnist
def test_kill_and_resume_equals_the_uninterrupted_run(tmp_path):
    """Bit for bit, with the same seed on CPU: the data, the learning rate and dropout's seeds all resume."""
    import keras

    args = [sys.executable, "-m", "edgedigits", "train", "--arch", "seed", "--epochs", "2", "--limit", "600",
            "--batch-size", "64", "--distribute", "none"]
    whole = subprocess.run(args + ["--out", str(tmp_path / "whole")], capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr[-2000:]
    out = tmp_path / "killed"
    _kill_after_first_epoch(args + ["--out", str(out)], out)
    assert _epochs_done(out) == 1
    resumed = subprocess.run(args + ["--out", str(out), "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = keras.models.load_model(tmp_path / "whole" / "model.keras").get_weights()
    b = keras.models.load_model(out / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    state = json.loads((out / "state.json").read_text())
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == sorted(
        {Path(state["last"]).name, Path(state["best"]).name})  # earlier epochs' files are gone

    more = subprocess.run(args + ["--out", str(out), "--resume", "--epochs", "5"], capture_output=True, text=True,
                          timeout=600)
    assert more.returncode == 1 and "set up for 2 epochs" in more.stderr and "Traceback" not in more.stderr


@pytest.mark.mnist
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from edgedigits.training.train import TrainConfig, make_strategy, train
        assert make_strategy("mirrored").num_replicas_in_sync == 2
        cfg = TrainConfig(arch="micro", epochs=1, batch_size=64, limit=512, distribute="mirrored")
        path, _, state = train(cfg, {str(tmp_path)!r}, data={DATA!r}, verbose=0)
        print("REPLICAS-OK", state["epoch"], path.exists())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "REPLICAS-OK 1 True" in proc.stdout
    assert "2 replica(s)" in " ".join(proc.stderr.split())


@pytest.mark.mnist
def test_resume_a_run_killed_in_its_first_epoch(tmp_path):
    cfg = TrainConfig(arch="micro", epochs=1, batch_size=50, limit=300, distribute="none")
    out = tmp_path / "run"
    out.mkdir()
    (out / "state.json").write_text(json.dumps({"config": vars(cfg), "epoch": 0, "best_val_accuracy": -1.0,
                                                "best_epoch": 0, "history": {}}))
    path, _, state = train(cfg, out, data=DATA, resume=True, verbose=0)
    assert path.exists() and state["epoch"] == 1


@pytest.mark.mnist
def test_mixed_precision_ships_a_float32_model(tmp_path):
    import keras

    cfg = TrainConfig(arch="micro", epochs=1, batch_size=50, limit=300, distribute="none", mixed_precision=True)
    path, _, _ = train(cfg, tmp_path, data=DATA, verbose=0)
    assert keras.mixed_precision.global_policy().name == "float32"  # reset for whoever trains next
    model = keras.models.load_model(path)
    assert all(w.dtype == "float32" for w in model.weights)
    assert model.layers[1].dtype_policy.name == "float32"


def test_multiworker_needs_tf_config(monkeypatch):
    from edgedigits.training.train import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(EdgeDigitsError, match="TF_CONFIG"):
        make_strategy("multiworker")


@pytest.mark.mnist
def test_label_smoothing_trains(tmp_path):
    cfg = TrainConfig(arch="micro", epochs=1, batch_size=50, limit=600, distribute="none", label_smoothing=0.1)
    path, _, state = train(cfg, tmp_path, data=DATA, verbose=0)
    assert path.exists() and state["history"]["loss"][0] > 0 and 0 < state["best_val_accuracy"] <= 1


@pytest.mark.mnist
def _start_and_tune(tmp_path, lr: float):
    """A tiny micro run in tmp_path/a, and the config of a fine-tune from it at ``lr``: (base, its model, tuned)."""
    base = TrainConfig(arch="micro", epochs=1, batch_size=50, limit=400, distribute="none", seed=3)
    first, _, _ = train(base, tmp_path / "a", data=DATA, verbose=0)
    return base, first, TrainConfig(**{**vars(base), "seed": 4, "lr": lr, "init_from": str(first)})


def test_init_from_starts_from_the_given_weights(tmp_path):
    import hashlib

    import keras

    from edgedigits.runtime.bundled import bundled

    base, first, tuned = _start_and_tune(tmp_path, lr=1e-9)
    path, _, state = train(tuned, tmp_path / "b", data=DATA, verbose=0)
    assert state["init_from"]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    start = keras.models.load_model(first).layers[1].get_weights()[0]
    assert np.allclose(keras.models.load_model(path).layers[1].get_weights()[0], start, atol=1e-6)
    fresh, _, _ = train(TrainConfig(**{**vars(tuned), "init_from": None}), tmp_path / "c", data=DATA, verbose=0)
    assert not np.allclose(keras.models.load_model(fresh).layers[1].get_weights()[0], start, atol=1e-3)
    with pytest.raises(EdgeDigitsError, match="do not fit the micro architecture"):
        train(TrainConfig(**{**vars(tuned), "init_from": str(bundled("camera"))}), tmp_path / "d", data=DATA, verbose=0)
    with pytest.raises(EdgeDigitsError, match="no model file"):
        train(TrainConfig(**{**vars(tuned), "init_from": str(tmp_path / "none.keras")}), tmp_path / "e", data=DATA)


def test_wise_ships_the_average_of_the_learned_and_the_start_weights(tmp_path):
    import keras

    base, first, tuned = _start_and_tune(tmp_path, lr=1e-2)
    learned, _, _ = train(tuned, tmp_path / "b", data=DATA, verbose=0)
    halfway, _, _ = train(TrainConfig(**{**vars(tuned), "wise": 0.5}), tmp_path / "c", data=DATA, verbose=0)
    start, end, mid = (keras.models.load_model(p).layers[1].get_weights()[0] for p in (first, learned, halfway))
    assert not np.allclose(start, end, atol=1e-3)  # the fine-tune moved the weights...
    assert np.allclose(mid, (start + end) / 2, atol=1e-5)  # ...and half of that move ships
    with pytest.raises(EdgeDigitsError, match="--wise"):
        train(TrainConfig(**{**vars(base), "wise": 0.5}), tmp_path / "d", data=DATA, verbose=0)


def test_distilled_targets_mix_the_label_with_the_softened_teacher():
    from edgedigits.training.train import TEMPERATURE, distilled

    onehot = np.eye(3, dtype=np.float32)[[0, 2]]
    teacher = np.array([[0.9, 0.09, 0.01], [0.2, 0.0, 0.8]], np.float32)
    assert np.allclose(distilled(onehot, teacher, 0.0), onehot)
    mixed = distilled(onehot, teacher, 0.5)
    assert np.allclose(mixed.sum(axis=1), 1.0) and (mixed.argmax(axis=1) == [0, 2]).all()
    soft = distilled(onehot, teacher, 1.0)
    expected = teacher[0] ** (1 / TEMPERATURE) / (teacher[0] ** (1 / TEMPERATURE)).sum()
    assert np.allclose(soft[0], expected, atol=1e-6) and soft[0, 1] > teacher[0, 1]  # the runner-up gains
    assert soft[1, 1] > 0  # a zero probability is clipped, not a NaN


def test_a_ten_class_teacher_teaches_the_digits_and_leaves_the_junk_its_label():
    from edgedigits.digit import NOT_A_DIGIT
    from edgedigits.training.train import distilled

    onehot = np.eye(NOT_A_DIGIT + 1, dtype=np.float32)[[3, NOT_A_DIGIT]]
    teacher = np.full((2, NOT_A_DIGIT), 0.01, np.float32)
    teacher[0, 8] = teacher[1, 1] = 0.91  # it reads the 3 as an 8, and the junk as a 1
    mixed = distilled(onehot, teacher, 0.5)
    assert mixed.shape == onehot.shape and np.allclose(mixed.sum(axis=1), 1.0)
    assert mixed[0, 8] > mixed[0, 1] > 0 and mixed[0, NOT_A_DIGIT] == 0 and mixed[0].argmax() == 3
    assert np.array_equal(mixed[1], onehot[1])


@pytest.mark.mnist
def test_teacher_shapes_the_targets(tmp_path):
    cfg = TrainConfig(arch="micro", epochs=1, batch_size=50, limit=400, distribute="none", teacher="micro",
                      distill=0.7)
    for teacher in ("micro", "seed"):  # the same 11 classes, and the 10 digits alone
        run = TrainConfig(**{**vars(cfg), "teacher": teacher})
        path, _, state = train(run, tmp_path / teacher, data=DATA, verbose=0)
        assert path.is_file() and state["teacher"]["path"].endswith(f"{teacher}.keras")
        assert state["history"]["loss"][0] > 0
    import keras

    odd = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    odd.save(tmp_path / "five.keras")
    with pytest.raises(EdgeDigitsError, match="answers over 5 classes"):
        train(TrainConfig(**{**vars(cfg), "teacher": str(tmp_path / "five.keras")}), tmp_path / "b", data=DATA)
    with pytest.raises(EdgeDigitsError, match="camera recipe"):
        train(TrainConfig(arch="seed", epochs=1, limit=100, teacher="camera"), tmp_path / "c", data=DATA)


def test_val_seed_keeps_the_hold_out_of_another_seed():
    from edgedigits.training.train import hold_out_seed

    assert hold_out_seed(TrainConfig(seed=44)) == 44
    assert hold_out_seed(TrainConfig(seed=44, val_seed=43)) == 43
    images = np.random.default_rng(0).integers(0, 256, (100, 28, 28), dtype=np.uint8)
    labels = np.arange(100) % 10
    _, (v43, _) = split_train_val(images, labels, 0.2, seed=hold_out_seed(TrainConfig(seed=44, val_seed=43)))
    _, (v44, _) = split_train_val(images, labels, 0.2, seed=hold_out_seed(TrainConfig(seed=44)))
    _, (old, _) = split_train_val(images, labels, 0.2, seed=43)
    np.testing.assert_array_equal(v43, old)
    assert not np.array_equal(v43, v44)
