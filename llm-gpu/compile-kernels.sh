#!/usr/bin/env bash
# Recompiles the CUDA kernels (src/main/cuda) to the PTX shipped as resources, and records the SHA-256
# of the sources in kernels.manifest so a test can tell when the committed PTX is stale.
# Needs nvcc (CUDA 13). Run from anywhere: llm-gpu/compile-kernels.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/src/main/cuda"
out="$here/src/main/resources/dev/isthmus/gpu/cuda"
NVCC="${NVCC:-nvcc}"
# PTX targets: the lowest target the kernels need, JIT-compiled by the driver for every newer GPU.
# Keep in step with PtxCatalog.TARGETS.
targets=(75)
mkdir -p "$out"
for t in "${targets[@]}"; do
  # Shipped gzip-compressed (PtxCatalog reads it so); -n keeps the bytes free of names and times.
  "$NVCC" -ptx -arch=compute_$t -O3 -I "$src" "$src/kernels.cu" -o "$out/kernels.compute_$t.ptx"
  gzip -9 -n -f "$out/kernels.compute_$t.ptx"
done
{
  echo "# Written by compile-kernels.sh; checked by KernelSourcesTest. Do not edit."
  echo "nvcc=$("$NVCC" --version | grep -o 'V[0-9][0-9.]*' | head -1)"
  echo "targets=$(IFS=,; echo "${targets[*]}")"
  for f in dequant.cuh kernels.cu; do
    echo "sha256.$f=$(sha256sum "$src/$f" | cut -d' ' -f1)"
  done
} > "$out/kernels.manifest"
echo "wrote $(ls "$out"/kernels.compute_*.ptx.gz | wc -l) PTX file(s) to $out"
