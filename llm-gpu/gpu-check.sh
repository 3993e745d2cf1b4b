#!/usr/bin/env bash
# GPU acceptance check for the cuda backend, in two halves (see README.md, "Checking on a GPU"):
#
#   llm-gpu/gpu-check.sh prepare   # here, with JDK 25 and Maven's offline cache: builds the jars, jlinks a
#                                  # JDK and stages models into .gpu-check/ (git-ignored via .git/info/exclude)
#   llm-gpu/gpu-check.sh run       # on the GPU machine, from the repository root, with .gpu-check/ carried:
#                                  # kernels + greedy ids/logits vs CPU, then decode/prefill benches
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
  rm -rf "$stage" && mkdir -p "$stage/models"
  cp llm-examples/target/isthmus.jar "$stage/"
  cp -r llm-gpu/target/test-classes "$stage/test-classes"
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.incubator.vector,jdk.unsupported \
    --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$stage/jdk"
  # Decoders small enough to carry (the working tree that travels is limited to 64 MiB).
  for m in stories260K.gguf stories260K-f16.gguf stories260K-q4_0.gguf stories260K-q8_0.gguf \
           synth-llama256-q4_0.gguf synth-llama256-q8_0.gguf synth-llama256-q4_k_m.gguf synth-llama256-q6_k.gguf \
           synth-llama256-iq4_nl.gguf synth-phi3.gguf llama-2-tiny-random.gguf; do
    cp "$shared/testdata/models/$m" "$stage/models/"
  done
  du -sh "$stage"
  echo "staged; now run on the GPU machine: bash llm-gpu/gpu-check.sh run   (carry .gpu-check)"
}

run() {
  cd "$root"
  out="${OUT:-$root/gpu-check-out}"
  mkdir -p "$out"
  java="$stage/jdk/bin/java"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/device.txt" || true
  # 1. Correctness: kernels on random weights, then greedy ids + logits per model, against the CPU backend.
  set +e
  "$java" "${jvm[@]}" -cp "$stage/isthmus.jar:$stage/test-classes" dev.isthmus.gpu.cuda.GpuCheck "$stage/models" \
    2>&1 | tee "$out/correctness.txt"
  status=${PIPESTATUS[0]}
  set -e
  # 2. Bench: a 0.5 B random Llama (Qwen2-0.5B shapes), Q8_0 and Q4_0, cpu vs cuda.
  isthmus=("$java" "${jvm[@]}" -jar "$stage/isthmus.jar")
  m=/tmp/isthmus-0.5b
  "${isthmus[@]}" bench --make-model -m "$m-f16.gguf" --type f16 --dim 896 --ffn 4864 --layers 24 --heads 14 \
    --kv-heads 2 --vocab-from "$stage/models/llama-2-tiny-random.gguf" -p 8 -n 4 -r 1 --backend cpu > /dev/null
  for t in Q8_0 Q4_0; do
    "${isthmus[@]}" quantize "$m-f16.gguf" "$m-$t.gguf" "$t" > /dev/null
    for b in cuda cpu; do
      "${isthmus[@]}" bench -m "$m-$t.gguf" --backend "$b" -p 128 -n 64 -r 3 2>&1 | tee -a "$out/bench.txt"
    done
    ls -l "$m-$t.gguf" | tee -a "$out/bench.txt"
  done
  echo "decode bandwidth fraction = file bytes x decode tok/s / device copy bandwidth (correctness.txt)" >> "$out/bench.txt"
  exit "$status"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 64 ;;
esac
