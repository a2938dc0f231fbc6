#!/usr/bin/env bash
# The prepared GPU check for issues 10 and 13 (not collected by pytest): run once on a lent GPU,
# from the repository root, with the project installed. Each step prints its figures; OUT collects
# the sweep folders. Nothing here has run yet: no GPU was lent to the sessions that wrote it.
#   OUT=/tmp/gpu bash tests/gpu_speed.sh 2>&1 | tee gpu_speed.txt
set -uo pipefail
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"

# 13.4: engine vs naive vs bare denoiser, candidates/s and peak memory; overlap, channels_last, compile
for extra in "--overlap off" "--overlap on" "--overlap on --channels-last" "--overlap on --channels-last --compile"; do
  timeout 300 python -m tsearch.bench engine --model sd15-random --device cuda --candidates 64 --steps 20 \
    --batch-size 16 --naive-candidates 8 --repeat 2 $extra
done
timeout 300 python -m tsearch.bench engine --model flux-random --device cuda --candidates 8 --steps 4 \
  --batch-size 4 --naive-candidates 2 --overlap on

# 13.5 on a GPU: the app's first candidate and a 64 x 20 search on shapes
timeout 120 python -m tsearch.bench app-latency --repeat 2

# 10: the bar, pooled over 36 captions up to 2,560 NFEs, every method at 10 steps (Euler, as the
# 12-caption table), judged by the oracle; resumable: run the same line again after a timeout
timeout 420 python -m tsearch.bench scaling --world shapes --captions 36 --methods all --steps 10 --solver euler \
  --budgets 160 320 640 1280 2560 --device cuda --out "$OUT/bar" --json "$OUT/bar.json"
