#!/usr/bin/env bash
# Train every bundled world's weights at once on one GPU (how the shipped assets/ were made):
#   bash tsearch/worlds/train_all.sh OUTDIR [GENERATOR_MINUTES]
# The jobs run concurrently; each stops at its wall-clock cap and always saves. Copy the results
# to assets/ (OUTDIR/shapes/* -> assets/shapes/*, OUTDIR/digits/* -> assets/digits/*).
# On a CPU, run the scripts one by one instead (docs/worlds.md, "Training the bundled worlds").
set -u
out=${1:?usage: train_all.sh OUTDIR [GENERATOR_MINUTES]}
minutes=${2:-7}
dev=${DEVICE:-cuda}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$out/logs"
frac() { $py -c "print(round($minutes * $1, 2))"; }
$py -m tsearch.worlds.shapes.train_generator --device "$dev" --minutes "$minutes" --out "$out/shapes/generator" \
  >"$out/logs/shapes_generator.log" 2>&1 &
( $py -m tsearch.worlds.shapes.train_clip --device "$dev" --minutes "$(frac 0.72)" --holdout 0 --out "$out/shapes/clip" \
  && $py -m tsearch.worlds.shapes.train_quality --clip "$out/shapes/clip" --device "$dev" --minutes "$(frac 0.2)" \
       --out "$out/shapes/quality" ) >"$out/logs/shapes_clip_quality.log" 2>&1 &
$py -m tsearch.worlds.digits.train_generator --device "$dev" --minutes "$(frac 0.8)" --out "$out/digits/generator" \
  >"$out/logs/digits_generator.log" 2>&1 &
( $py -m tsearch.worlds.digits.train_classifier --device "$dev" --minutes "$(frac 0.15)" --out "$out/digits/classifier" \
  && $py -m tsearch.worlds.digits.train_features --device "$dev" --minutes "$(frac 0.15)" --out "$out/digits/features" ) \
  >"$out/logs/digits_nets.log" 2>&1 &
wait
echo "training done"
