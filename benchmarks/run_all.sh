#!/usr/bin/env bash
# Reproduce every number published in README.md and benchmarks/results/ on this machine.
#   bash benchmarks/run_all.sh          (needs: pip install -e ".[all]"; MNIST via $EDGEDIGITS_DATA or a download)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
# All formats x installed runtimes x threads 1 and 2, plus the camera pipeline.
edgedigits bench --threads 1,2 --pipeline --out "$out"
# The camera pipeline on one pinned core (issue target: <= 4 ms per 640x480 frame with 10 digits).
python benchmarks/pipeline_speed.py --out "$out"
# Reading accuracy on generated camera scenes, clean and hard.
python benchmarks/scenes_accuracy.py --out "$out"
# Accuracy of each bundled model in each bundled format.
for m in edgedigits/models/*.keras edgedigits/models/*.onnx edgedigits/models/*.tflite; do
  edgedigits evaluate "$m" --json
done > "$out/evaluate.jsonl"
echo "results in $out"
