#!/usr/bin/env bash
# Reproduce every number published in README.md and benchmarks/results/ on this machine.
#   bash benchmarks/run_all.sh          (needs: pip install -e ".[all]"; MNIST via $EDGEDIGITS_DATA or a download)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
# All formats x installed runtimes x threads 1 and 2, plus the camera pipeline.
edgedigits bench --model seed --threads 1,2 --pipeline --out "$out"   # the README table; the default is camera
# The camera pipeline on one pinned core, 640x480 frames with 10 digits.
python benchmarks/pipeline_speed.py --desk --out "$out"
# The camera pipeline against the commit before the page finder (issue 23), timed side by side.
python benchmarks/pipeline_vs.py --ref 530292f --rounds 6 --out "$out"
# Reading accuracy on generated scenes: clean, hard and photo-like.
python benchmarks/scenes_accuracy.py --out "$out"
# Reading accuracy on the real photos (skipped when ../shared/data/photos-dev is absent).
python benchmarks/photos_accuracy.py --out "$out"
python benchmarks/crops_accuracy.py --out "$out"
# The motion gate against reading every frame, on generated clips, and a 30-minute soak.
python benchmarks/camera_idle.py --out "$out"
# Accuracy of each bundled model in each bundled format.
for m in edgedigits/models/*.keras edgedigits/models/*.onnx edgedigits/models/*.tflite; do
  edgedigits evaluate "$m" --json
done > "$out/evaluate.jsonl"
echo "results in $out"
