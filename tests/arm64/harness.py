"""Run edgedigits on a Raspberry Pi's CPU architecture under emulation, and compare with this machine.

    python tests/arm64/harness.py [--keep-going] [--report benchmarks/results/arm64.md]

Builds (once, cached by recipe) a Debian bookworm arm64 root filesystem, the base of 64-bit Raspberry Pi OS,
with Python 3.11. Installs the project's wheel with [runtime] from PyPI's aarch64 wheels into a venv there,
checks that TensorFlow is absent, then runs `predict --json` on generated scenes and `camera --json` on a clip
under QEMU_CPU=cortex-a72 (Pi 4) and cortex-a76 (Pi 5), for the int8 .tflite and the .onnx model. The digits
and boxes must equal the x86 run. Needs root, debootstrap and qemu-user-static (Debian packages).
Emulated timings say nothing about a Pi's speed and are never reported.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CPUS = {"cortex-a72": "Raspberry Pi 4 Model B Rev 1.4", "cortex-a76": "Raspberry Pi 5 Model B Rev 1.0"}
RECIPE = {"suite": "bookworm", "arch": "arm64", "variant": "minbase",
          "include": ["python3", "python3-venv", "libgl1", "libglib2.0-0", "ca-certificates"], "version": 1}
VENV = "/opt/edgedigits"
CPUINFO = """processor\t: {i}
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid{extra}
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: {variant}
CPU part\t: {part}
CPU revision\t: {rev}

"""


def log(message: str) -> None:
    print(f"[arm64] {message}", file=sys.stderr, flush=True)


def sh(cmd, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    return subprocess.run(cmd, **kwargs)


# ---------------------------------------------------------------- host set-up


def apt_mirror() -> str:
    """The Debian mirror apt on this machine already uses."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.is_file():
            texts.append(path.read_text())
    for text in texts:
        for match in re.finditer(r"^URIs:\s*(\S+)", text, re.M):
            if "security" not in match.group(1):
                return match.group(1)
        for match in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", text, re.M):
            if "security" not in match.group(1):
                return match.group(1)
    return "http://deb.debian.org/debian"


def ensure_tools() -> None:
    """debootstrap and qemu-user-static from Debian, installed when missing (root, registries reachable)."""
    if shutil.which("debootstrap") and Path("/usr/lib/binfmt.d/qemu-aarch64.conf").exists():
        return
    log("installing debootstrap and qemu-user-static")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    sh(["apt-get", "install", "-y", "-q", "debootstrap", "qemu-user-static"], env=env, stdout=subprocess.DEVNULL)


def ensure_binfmt() -> None:
    """Mount binfmt_misc and register Debian's qemu-aarch64 handler if they are missing."""
    base = Path("/proc/sys/fs/binfmt_misc")
    if not (base / "register").exists():
        sh(["mount", "-t", "binfmt_misc", "binfmt_misc", str(base)])
    if not (base / "qemu-aarch64").exists():
        conf = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
        if not conf.exists():
            raise SystemExit("qemu-user-static is missing: apt-get install qemu-user-static debootstrap")
        (base / "register").write_text(conf.read_text().strip() + "\n")


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "edgedigits" / "arm64"


def rootfs_path() -> Path:
    key = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / f"bookworm-{key}"


def build_rootfs() -> Path:
    rootfs = rootfs_path()
    if (rootfs / ".complete").exists():
        log(f"rootfs cached at {rootfs}")
        return rootfs
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: apt-get install debootstrap qemu-user-static")
    if rootfs.exists():
        _unmount_all(rootfs)
        shutil.rmtree(rootfs)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    mirror = apt_mirror()
    started = time.time()
    log(f"debootstrap stage 1 from {mirror} into {rootfs}")
    sh(["debootstrap", "--arch=arm64", "--foreign", f"--variant={RECIPE['variant']}",
        f"--include={','.join(RECIPE['include'])}", RECIPE["suite"], str(rootfs), mirror])
    qemu = shutil.which("qemu-aarch64-static")
    if qemu:  # the F flag makes this unnecessary, but it keeps the rootfs usable without it
        shutil.copy2(qemu, rootfs / "usr/bin/qemu-aarch64-static")
    log("debootstrap stage 2 (emulated; a few minutes)")
    sh(["chroot", str(rootfs), "/debootstrap/debootstrap", "--second-stage"],
       env={**os.environ, "QEMU_CPU": "cortex-a72", "LC_ALL": "C"})
    (rootfs / ".complete").write_text(json.dumps({**RECIPE, "mirror": mirror, "seconds": time.time() - started}))
    log(f"rootfs built in {time.time() - started:.0f} s")
    return rootfs


def _unmount_all(rootfs: Path) -> None:
    for line in reversed(Path("/proc/mounts").read_text().splitlines()):
        target = line.split()[1]
        if target.startswith(str(rootfs) + "/"):
            subprocess.run(["umount", "-l", target], check=False)


@contextlib.contextmanager
def mounted(rootfs: Path, cpu: str):
    """proc, dev and a Pi-like /proc/cpuinfo (onnxruntime segfaults under qemu reading the host's x86 one)."""
    done = []
    proc = rootfs / "proc"
    try:
        if proc.is_symlink():  # left by stage 1: pointing at the host's /proc
            proc.unlink()
        proc.mkdir(exist_ok=True)
        sh(["mount", "-t", "proc", "proc", str(proc)])
        done.append(proc)
        dev = rootfs / "dev"
        sh(["mount", "--bind", "/dev", str(dev)])
        done.append(dev)
        sys_dir = rootfs / "sys"
        sys_dir.mkdir(exist_ok=True)
        sh(["mount", "-t", "sysfs", "sysfs", str(sys_dir)])  # onnxruntime's cpuinfo reads /sys/devices/system/cpu
        done.append(sys_dir)
        fake = rootfs / "tmp" / f"cpuinfo-{cpu}"
        fake.parent.mkdir(exist_ok=True)
        part, variant, rev, extra = (("0xd08", "0x0", "3", "") if cpu == "cortex-a72"
                                     else ("0xd0b", "0x4", "1", " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp"))
        fake.write_text("".join(CPUINFO.format(i=i, part=part, variant=variant, rev=rev, extra=extra) for i in range(4))
                        + f"Model\t\t: {CPUS[cpu]}\n")
        sh(["mount", "--bind", str(fake), str(proc / "cpuinfo")])
        done.append(proc / "cpuinfo")
        resolv = rootfs / "etc" / "resolv.conf"
        if Path("/etc/resolv.conf").exists() and not resolv.is_symlink():  # name resolution for pip
            shutil.copy2("/etc/resolv.conf", resolv)
        yield
    finally:
        for target in reversed(done):  # only what was mounted here
            subprocess.run(["umount", str(target)], check=False)


def chroot(rootfs: Path, cpu: str, command: str, check: bool = True, timeout: float = 3600) -> subprocess.CompletedProcess:
    env = {"PATH": f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C.UTF-8",
           "QEMU_CPU": cpu, "PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    cert = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if cert and Path(cert).is_file():
        shutil.copy2(cert, rootfs / "tmp" / "host-ca.pem")
        env["PIP_CERT"] = "/tmp/host-ca.pem"
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        if proxy in os.environ:
            env[proxy] = os.environ[proxy]
    exe = shutil.which("chroot") or "/usr/sbin/chroot"  # found with the host's PATH, not the rootfs's in env
    return subprocess.run([exe, str(rootfs), "/bin/sh", "-c", command], env=env, capture_output=True, text=True,
                          check=check, timeout=timeout)


# ---------------------------------------------------------------- the project inside


def build_wheel(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("edgedigits-*.whl"):
        old.unlink()
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools would add stale files left in build/lib
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
       stdout=subprocess.DEVNULL)
    return next(out.glob("edgedigits-*.whl"))


def install(rootfs: Path, wheel: Path) -> dict:
    shutil.copy2(wheel, rootfs / "tmp" / wheel.name)
    pinned = ROOT / "edgedigits" / "device" / "pins" / "runtime-aarch64.txt"
    shutil.copy2(pinned, rootfs / "tmp" / pinned.name)
    log(f"creating the venv and installing edgedigits[runtime] from PyPI as {pinned.name} pins it (emulated)")
    with mounted(rootfs, "cortex-a76"):
        result = chroot(rootfs, "cortex-a76", f"rm -rf {VENV} && python3 -m venv {VENV} && "
                                              f"{VENV}/bin/pip install -q --require-hashes -r /tmp/{pinned.name} && "
                                              f"{VENV}/bin/pip install -q --no-deps '/tmp/{wheel.name}'", check=False)
        if result.returncode != 0:
            raise SystemExit(f"pip install failed inside the rootfs:\n{result.stderr[-3000:]}")
        opencv = chroot(rootfs, "cortex-a76", f"{VENV}/bin/pip list --format=freeze").stdout.lower()
        opencv_wheels = sorted(line.split("==")[0] for line in opencv.splitlines() if line.startswith("opencv"))
        venv = rootfs / VENV.lstrip("/")
        sizes = _venv_sizes(venv)  # [runtime] only
        log("adding edgedigits[onnx] for the .onnx checks")
        result = chroot(rootfs, "cortex-a76", f"{VENV}/bin/pip install -q '/tmp/{wheel.name}[runtime,onnx]'", check=False)
        if result.returncode != 0:
            raise SystemExit(f"pip install [onnx] failed inside the rootfs:\n{result.stderr[-3000:]}")
        versions = chroot(rootfs, "cortex-a76", f"{VENV}/bin/python -c \"import sys, importlib.util, platform, "
                                                "importlib.metadata as m; print(platform.python_version(), "
                                                "importlib.util.find_spec('tensorflow') is not None, "
                                                "*(m.version(d) for d in ('numpy','opencv-python-headless',"
                                                "'ai-edge-litert','onnxruntime')))\"").stdout.split()
    return {"python": versions[0], "tensorflow_installed": versions[1] == "True", "numpy": versions[2],
            "opencv": versions[3], "ai_edge_litert": versions[4], "onnxruntime": versions[5],
            "opencv_wheels": opencv_wheels, **sizes}


def _venv_sizes(venv: Path) -> dict:
    """The venv's size, its bytecode and its largest parts, in MB."""
    site = next(venv.glob("lib/python3*/site-packages"))
    parts = {}
    for child in site.iterdir():
        files = [child] if child.is_file() else [f for f in child.rglob("*") if f.is_file() and not f.is_symlink()]
        parts[child.name] = sum(f.stat().st_size for f in files)
    largest = sorted(parts.items(), key=lambda kv: -kv[1])[:8]
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    pyc = sum(f.stat().st_size for f in venv.rglob("*.pyc"))
    return {"venv_mb": round(size / 1e6, 1), "bytecode_mb": round(pyc / 1e6, 1),
            "largest": {name: round(b / 1e6, 1) for name, b in largest}}


def make_inputs(workdir: Path) -> None:
    """Fixed scenes and a 50-frame clip, generated on the host with the project's scene generator."""
    import cv2
    import numpy as np

    from edgedigits.measure import scenes
    from edgedigits.training import mnist

    ds = mnist.load()
    rng = np.random.default_rng(2024)
    scene_dir = workdir / "scenes"
    scene_dir.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        scene = scenes.make_scene(rng, ds.test.images, ds.test.labels, n=10, hard=i % 3 == 2)
        cv2.imwrite(str(scene_dir / f"scene{i:02d}.png"), scene.image)
    # Lossless FFV1: MPEG-4 (mp4v) decodes to different pixels on x86 and aarch64 (FFmpeg's decoder is not
    # bit-exact across architectures), which would test FFmpeg rather than edgedigits.
    writer = cv2.VideoWriter(str(workdir / "clip.mp4"), cv2.VideoWriter_fourcc(*"FFV1"), 10.0, (640, 480))
    for i in range(50):
        if i % 10 == 0:
            frame = scenes.make_scene(rng, ds.test.images, ds.test.labels, n=8).image
        writer.write(frame)
    writer.release()
    models = workdir / "models"
    models.mkdir(exist_ok=True)
    for name in ("seed.int8.tflite", "seed.onnx"):
        shutil.copy2(ROOT / "edgedigits" / "models" / name, models / name)


def outputs(run, workdir: str, model: str) -> dict:
    """predict on the scenes and camera on the clip; digits and boxes only (confidences may differ in the last bits)."""
    pred = run(f"edgedigits predict {workdir}/scenes --json --model {workdir}/models/{model}")
    cam = run(f"edgedigits camera --source {workdir}/clip.mp4 --json --max-frames 50 --model {workdir}/models/{model}")

    def strip(line):
        obj = json.loads(line)
        return {"digits": [(d["digit"], d["box"]) for d in obj["digits"]], "numbers": [n["text"] for n in obj["numbers"]]}

    return {"predict": [{"image": Path(json.loads(line)["image"]).name, **strip(line)} for line in pred.splitlines()],
            "camera": [strip(line) for line in cam.splitlines()]}


def check(keep_going: bool = False, report: Path | None = None) -> dict:
    if os.geteuid() != 0:
        raise SystemExit("the arm64 check needs root (debootstrap, chroot, mount)")
    ensure_tools()
    ensure_binfmt()
    rootfs = build_rootfs()
    wheel = build_wheel(cache_dir() / "wheel")
    env = install(rootfs, wheel)
    log(f"venv: {env['venv_mb']} MB, TensorFlow installed: {env['tensorflow_installed']}")
    work = rootfs / "tmp" / "work"
    shutil.rmtree(work, ignore_errors=True)
    make_inputs(work)

    def host_run(command: str) -> str:
        exe = Path(sys.executable).with_name("edgedigits")
        cmd = command.replace("edgedigits ", f"{exe} ", 1).replace("/tmp/work", str(work))
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=True).stdout

    results = {"date": time.strftime("%Y-%m-%d"), "env": env, "runs": []}
    for model in ("seed.int8.tflite", "seed.onnx"):
        reference = outputs(host_run, "/tmp/work", model)
        for cpu in CPUS:
            log(f"{model} on {cpu}")
            with mounted(rootfs, cpu):
                emulated = outputs(lambda c: chroot(rootfs, cpu, c).stdout, "/tmp/work", model)
            same = emulated == reference
            diffs = _differences(reference, emulated)
            results["runs"].append({"model": model, "cpu": cpu, "identical": same, "differences": diffs[:10],
                                    "same_digits": _digits(emulated) == _digits(reference),
                                    "max_box_shift_px": _box_shift(reference, emulated),
                                    "images": len(reference["predict"]), "frames": len(reference["camera"]),
                                    "digits": sum(len(r["digits"]) for r in reference["predict"])})
            log(f"  identical to x86: {same}" + ("" if same else f" ({len(diffs)} differences)"))
            if not same and not keep_going:
                break
    with mounted(rootfs, "cortex-a76"):
        doctor = chroot(rootfs, "cortex-a76", "edgedigits doctor", check=False)
        unit = chroot(rootfs, "cortex-a76", "edgedigits service install --dry-run --user nobody --source picam --serve 0.0.0.0:8080",
                      check=False)
    results["doctor"] = {"exit": doctor.returncode, "output": doctor.stdout + doctor.stderr}
    results["service_dry_run"] = {"exit": unit.returncode, "output": unit.stdout + unit.stderr}
    if report:
        write_report(results, report)
    return results


def _digits(out: dict) -> dict:
    """The digits and numbers read, without their boxes."""
    return {kind: [([d for d, _ in r["digits"]], r["numbers"]) for r in out[kind]] for kind in ("predict", "camera")}


def _box_shift(reference: dict, emulated: dict) -> int | None:
    """The largest difference of any box coordinate between the two runs (None when the digits differ)."""
    if _digits(reference) != _digits(emulated):
        return None
    shifts = [abs(a - b) for kind in ("predict", "camera") for ra, rb in zip(reference[kind], emulated[kind])
              for (_, box_a), (_, box_b) in zip(ra["digits"], rb["digits"]) for a, b in zip(box_a, box_b)]
    return max(shifts, default=0)


def _differences(reference: dict, emulated: dict) -> list[str]:
    out = []
    for kind in ("predict", "camera"):
        for i, (a, b) in enumerate(zip(reference[kind], emulated[kind])):
            if a != b:
                out.append(f"{kind}[{i}]: x86 {a} vs arm64 {b}")
        if len(reference[kind]) != len(emulated[kind]):
            out.append(f"{kind}: {len(reference[kind])} results on x86, {len(emulated[kind])} on arm64")
    return out


def write_report(results: dict, path: Path) -> None:
    env = results["env"]
    lines = [f"# arm64 (Raspberry Pi OS 64-bit base) check, {results['date']}", "",
             "Debian bookworm arm64 rootfs under qemu-user (binfmt_misc), Python "
             f"{env['python']}; the project's wheel installed with `[runtime]` from PyPI's aarch64 wheels: numpy "
             f"{env['numpy']}, opencv-python-headless {env['opencv']}, ai-edge-litert {env['ai_edge_litert']}, "
             f"onnxruntime {env['onnxruntime']}.", "",
             f"- TensorFlow installed in the Pi venv: **{'yes' if env['tensorflow_installed'] else 'no'}**",
             f"- venv size with `[runtime]`: **{env['venv_mb']} MB** (goal: at most 250 MB"
             + ("; **over the goal**" if env["venv_mb"] > 250 else "") + f"; OpenCV wheels: "
             f"{', '.join(env['opencv_wheels'])}" + f"). {env['bytecode_mb']} MB of it is bytecode "
             "that pip compiles at install. Largest parts: "
             + ", ".join(f"{name} {mb} MB" for name, mb in env["largest"].items()) + ".",
             f"- `edgedigits doctor` inside the rootfs (a Pi 5 cpuinfo, no camera): exit {results['doctor']['exit']}; "
             "problems found: " + ("; ".join(line.strip()[9:] for line in results["doctor"]["output"].splitlines()
                                             if line.startswith("problem: ")) or "none"),
             f"- `edgedigits service install --dry-run` exit code inside the rootfs: {results['service_dry_run']['exit']}",
             "", "| model | QEMU_CPU | scenes | digits | camera frames | digits identical to x86 | boxes identical "
             "(largest shift) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['cpu']} | {r['images']} | {r['digits']} | {r['frames']} | "
              f"{'yes' if r['same_digits'] else '**no**'} | {'yes' if r['identical'] else 'no'} "
              f"({r['max_box_shift_px']} px) |" for r in results["runs"]]
    lines += ["", "The clip is written losslessly (FFV1 in .mp4). With MPEG-4 (mp4v), the decoded frames themselves differ",
              "between x86 and aarch64 (FFmpeg's decoder is not bit-exact across architectures). Then the digits still",
              "agreed, but one box moved by a pixel. On equal pixels (the PNG scenes, the lossless clip) a box can still",
              "move by a pixel: OpenCV's float resampling and blurs round differently with AVX2 and NEON, and a pixel at",
              "the ink threshold goes either way. The digits read must not change.", "",
              "Command: `python tests/arm64/harness.py --report benchmarks/results/arm64.md` (root). Emulated",
              "timings say nothing about a Pi's speed and are not reported."]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-going", action="store_true", help="run every combination even after a mismatch")
    parser.add_argument("--report", type=Path, default=None, help="write a Markdown summary here")
    args = parser.parse_args()
    results = check(args.keep_going, args.report)
    print(json.dumps(results, indent=2))
    ok = (all(r["identical"] for r in results["runs"]) and len(results["runs"]) == 4
          and not results["env"]["tensorflow_installed"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
