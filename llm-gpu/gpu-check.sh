#!/usr/bin/env bash
# GPU acceptance check for the cuda backend, in two halves (see README.md, "Checking on a GPU"):
#
#   llm-gpu/gpu-check.sh prepare   # here, with JDK 25, Maven's offline cache and the reference tools: builds the
#                                  # jars, jlinks a JDK, stages models and llama.cpp's source, packed into
#                                  # .gpu-check/ (git-ignored via .git/info/exclude; the device upload is limited
#                                  # to 64 MiB). ISTHMUS_BASELINE=<git revision> also stages that revision's
#                                  # isthmus.jar, benched beside this one on the same GPU in the same run.
#   llm-gpu/gpu-check.sh run       # on the GPU machine, from the repository root, with .gpu-check/ carried:
#                                  # kernels + greedy ids/logits vs CPU, Isthmus benches, kernel times (ncu),
#                                  # and llama.cpp built there for the GPU and benched on the same files
#
# Results go to $OUT (the device tool's folder) or ./gpu-check-out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stage="$root/.gpu-check"
shared="${ISTHMUS_SHARED:-$root/../shared}"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
jvm=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m)
prepare() {
  cd "$root"
  grep -qx '/.gpu-check/' .git/info/exclude 2>/dev/null || echo '/.gpu-check/' >> .git/info/exclude
  ./mvnw -B -q -o -pl llm-tokenizers,llm-core,llm-quant,llm-gpu install -DskipTests
  ./mvnw -B -q -o -pl llm-gpu test-compile
  ./mvnw -B -q -o -pl llm-examples package -DskipTests
  work="$(mktemp -d)"
  mkdir -p "$work/isthmus/models"
  cp llm-examples/target/isthmus.jar "$work/isthmus/"
  if [ -n "${ISTHMUS_BASELINE:-}" ]; then
    tree="$(mktemp -d)/baseline"
    git worktree add --detach "$tree" "$ISTHMUS_BASELINE" > /dev/null
    (cd "$tree" && ./mvnw -B -q -o -pl llm-examples -am package -DskipTests)
    cp "$tree/llm-examples/target/isthmus.jar" "$work/isthmus/baseline.jar"
    git worktree remove --force "$tree"
  fi
  cp -r llm-gpu/target/test-classes "$work/isthmus/test-classes"
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.incubator.vector,jdk.unsupported \
    --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$work/isthmus/jdk"
  for m in stories260K.gguf stories260K-f16.gguf stories260K-q4_0.gguf stories260K-q8_0.gguf \
           synth-llama256-q4_0.gguf synth-llama256-q8_0.gguf synth-llama256-q4_k_m.gguf synth-llama256-q6_k.gguf \
           synth-llama256-q5_k_m.gguf synth-llama256-iq4_nl.gguf synth-phi3.gguf llama-2-tiny-random.gguf; do
    cp "$shared/testdata/models/$m" "$work/isthmus/models/"
  done
  rm -rf "$stage" && mkdir -p "$stage"
  stage_llama "$stage"
  tar -C "$work" -cf - isthmus | xz -T0 -6 > "$stage/isthmus.tar.xz"
  rm -rf "$work"
  du -sh "$stage"/*
  echo "staged; now run on the GPU machine: bash llm-gpu/gpu-check.sh run   (carry .gpu-check)"
}

# llama.cpp's source, the release the reference tools' npm package ships, to be built for the device's own
# architecture there: the npm prebuilt CUDA libraries carry cubins for sm_86/89/120/121 only and PTX of ISA 9.1,
# which a CUDA 13.0 driver cannot JIT (seen on the H200: "CUDA error" at the first kernel).
stage_llama() {
  local work="$1" ref="$shared/reference/ref" home="${ISTHMUS_REF_HOME:-$HOME/.cache/isthmus-reference}"
  "$ref" llama-bench --help > /dev/null 2>&1 || { echo "no llama.cpp source: skipping llama.cpp" >&2; return 0; }
  tar -C "$home/llama.cpp" -cf - --exclude=.git --exclude=./build --exclude=./models --exclude=./docs \
    --exclude=./media --exclude=./tests --exclude='*.gguf' --exclude=./examples/model-conversion \
    --exclude=./ggml/src/ggml-{vulkan,sycl,opencl,cann,metal,webgpu,musa,hexagon} . | xz -T0 -6 > "$work/llama-src.tar.xz"
}

run() {
  cd "$root"
  out="${OUT:-$root/gpu-check-out}"
  mkdir -p "$out"
  work=/tmp/isthmus-gpu-check
  rm -rf "$work" && mkdir -p "$work"
  xz -dc "$stage/isthmus.tar.xz" | tar -C "$work" -xf -
  s="$work/isthmus"
  java="$s/jdk/bin/java"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap --format=csv 2>&1 \
    | tee "$out/device.txt" || true
  # llama.cpp builds in the background (CPU only) while the checks below run.
  llama_bench=""
  if [ -f "$stage/llama-src.tar.xz" ] && command -v nvcc > /dev/null; then
    arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)"
    mkdir -p "$work/llama" && xz -dc "$stage/llama-src.tar.xz" | tar -C "$work/llama" -xf -
    ( cmake -S "$work/llama" -B "$work/llama/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DGGML_CUDA_FA=OFF -DGGML_CUDA_NCCL=OFF -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      && timeout 420 cmake --build "$work/llama/build" --target llama-bench -j "$(nproc)" ) \
      > "$work/llama-build.log" 2>&1 &
    build_pid=$!
    llama_bench="$work/llama/build/bin/llama-bench"
  fi
  # 1. Correctness: kernels on random weights, then greedy ids + logits per model, against the CPU backend.
  set +e
  timeout 240 "$java" "${jvm[@]}" -cp "$s/isthmus.jar:$s/test-classes" dev.isthmus.gpu.cuda.GpuCheck "$s/models" \
    2>&1 | grep -v '^INFO: \|CudaBackend \(open\|resident\)$' | tee "$out/correctness.txt"
  status=${PIPESTATUS[0]}
  # The benches wait for the llama.cpp build: compiling on every core beside them made the host side of the
  # Isthmus benches slow and noisy (tg64 265 +- 64 tok/s during the build, 442 +- 15 without it).
  if [ -n "$llama_bench" ]; then
    wait "$build_pid" || true
  fi
  # 2. Bench: a 0.5 B random Llama (Qwen2-0.5B shapes), Q8_0 and Q4_0: Isthmus cuda, then llama.cpp CUDA.
  isthmus=("$java" "${jvm[@]}" -jar "$s/isthmus.jar")
  m=/tmp/isthmus-0.5b
  timeout 120 "${isthmus[@]}" bench --make-model -m "$m-f16.gguf" --type f16 --dim 896 --ffn 4864 --layers 24 \
    --heads 14 --kv-heads 2 --vocab-from "$s/models/llama-2-tiny-random.gguf" -p 8 -n 4 -r 1 --backend cpu > /dev/null
  for t in Q8_0 Q4_0; do
    timeout 120 "${isthmus[@]}" quantize "$m-f16.gguf" "$m-$t.gguf" "$t" > /dev/null
    ls -l "$m-$t.gguf" | tee -a "$out/bench.txt"
    if [ -f "$s/baseline.jar" ]; then
      echo "baseline:" | tee -a "$out/bench.txt"
      timeout 120 "$java" "${jvm[@]}" -jar "$s/baseline.jar" bench -m "$m-$t.gguf" --backend cuda -p 128 -n 64 -r 3 2>&1 \
        | grep -v 'INFO\|CudaBackend' | tee -a "$out/bench.txt"
    fi
    timeout 120 "${isthmus[@]}" bench -m "$m-$t.gguf" --backend cuda -p 128 -n 64 -r 3 2>&1 | grep -v 'INFO\|CudaBackend' \
      | tee -a "$out/bench.txt"
  done
  # A longer prompt and generation: attention over 512-1024 positions.
  timeout 120 "${isthmus[@]}" bench -m "$m-Q4_0.gguf" --backend cuda -p 512 -n 512 -r 2 2>&1 | grep -v 'INFO\|CudaBackend' \
    | tee -a "$out/bench.txt"
  # 3. Where the GPU time goes: kernel durations (Nsight Compute) over one prefill and a few decode steps.
  ncu="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)"
  if [ -n "$ncu" ]; then
    timeout 150 "$ncu" --metrics gpu__time_duration.sum --csv --print-units base --launch-count 1500 \
      "${isthmus[@]}" bench -m "$m-Q4_0.gguf" --backend cuda -p 128 -n 8 -r 1 > "$work/ncu.csv" 2>/dev/null
    python3 - "$work/ncu.csv" <<'PY' 2>&1 | tee "$out/kernels.txt"
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head = rows[0]; rows = rows[1:]
name, grid, value = head.index("Kernel Name"), head.index("Grid Size"), head.index("Metric Value")
total = collections.defaultdict(float); count = collections.Counter()
for r in rows:
    key = r[name] + (" (batch)" if not r[grid].endswith(", 1, 1)") else "")
    total[key] += float(r[value].replace(",", "")) / 1000; count[key] += 1
print(f"{len(rows)} launches, {sum(total.values())/1000:.2f} ms of kernel time")
for k, v in sorted(total.items(), key=lambda kv: -kv[1]):
    print(f"{k:40s} {count[k]:6d} launches {v/1000:9.3f} ms  {v/count[k]:9.2f} us each")
PY
  fi
  # 4. llama.cpp CUDA on the same files.
  if [ -n "$llama_bench" ]; then
    tail -5 "$work/llama-build.log" > "$out/llama-build.txt"
    for t in Q8_0 Q4_0; do
      timeout 120 "$llama_bench" -m "$m-$t.gguf" -ngl 99 -p 128 -n 64 -r 3 2>&1 | grep -v '^load_backend\|^ggml_cuda_init\|^  Device' \
        | tee -a "$out/bench.txt"
    done
    timeout 120 "$llama_bench" -m "$m-Q4_0.gguf" -ngl 99 -p 512 -n 512 -r 2 2>&1 | grep '^| llama' | tee -a "$out/bench.txt"
  fi
  echo "decode bandwidth fraction = file bytes x decode tok/s / device copy bandwidth (correctness.txt)" >> "$out/bench.txt"
  exit "$status"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 64 ;;
esac
