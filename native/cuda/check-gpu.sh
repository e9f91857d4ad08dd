#!/usr/bin/env bash
# Checks the CUDA code paths on a machine with a GPU, without Node or npm:
#   1. compiles the kernels (nvcc --fatbin) and the C++ test programs (g++);
#   2. proves the hand-written declarations of src/cuda-api.h agree with the CUDA headers;
#   3. runs native/cuda/test/dense-executor-test: device probe, NVML readings, every step
#      kind in FP32, FP16 and BF16 against the CPU reference, and the direct device path
#      (DenseExecutor::runBatch: a batch gathered device to device from several requests'
#      memory plus a host input, outputs scattered back and copied to the host, and its
#      refusals) against the same reference (exit 1 on a mismatch);
#   4. runs native/cuda/test/cuda-ipc-test: CUDA shared memory across two processes (a
#      handle exported by one, opened, read, written and run on by the other, with
#      runOnDevice and with runBatch gathering and scattering three requests in the region);
#      then, when node and native/build/Release/nereid_cuda.node are there, the same region
#      through the Node addon (test/cuda-shm-addon-check.mjs: CudaSharedMemory, pointer()
#      and DenseModel.runDevice() as the server's cuda backend calls them);
#   5. when python3 has torch: the mlp FP16 benchmark against a torch.nn.Linear stack on
#      the same weights (bench/cuda/pytorch-mlp-bench.py), with the ratios.
# Output goes to stdout and, when $OUT is set, to $OUT/check-gpu.log and $OUT/bench.jsonl.
#
#   bash native/cuda/check-gpu.sh
set -uo pipefail
cd "$(dirname "$0")"
REPO=$(cd ../.. && pwd)
BUILD=${BUILD:-$(mktemp -d /tmp/nereid-cuda-check.XXXXXX)}
LOG=${OUT:+$OUT/check-gpu.log}
exec > >(tee ${LOG:-/dev/null}) 2>&1

CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
NVCC=${NVCC:-$(command -v nvcc || echo "$CUDA_HOME/bin/nvcc")}
echo "== $(date -u +%FT%TZ) on $(hostname); nvcc: $NVCC"
nvidia-smi --query-gpu=name,uuid,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi unavailable"

# cuBLASLt may come with PyTorch's wheels rather than the toolkit: let the loader find either.
if python3 -c 'import nvidia.cublas' 2>/dev/null; then
  export LD_LIBRARY_PATH="$(python3 -c 'import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), "lib"))'):${LD_LIBRARY_PATH:-}"
fi
export LD_LIBRARY_PATH="$CUDA_HOME/lib64:${LD_LIBRARY_PATH:-}"

status=0
echo "== kernels"
"$NVCC" --fatbin -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
  -O3 -o "$BUILD/nereid_cuda_kernels.fatbin" kernels/dense-kernels.cu || { echo "FAIL: nvcc"; exit 1; }

echo "== declarations"
g++ -std=c++17 -I"$CUDA_HOME/include" test/declarations-test.cc -o "$BUILD/declarations-test" && "$BUILD/declarations-test" || status=1

echo "== executor against the CPU reference"
g++ -std=c++17 -O2 -Wall -o "$BUILD/dense-executor-test" test/dense-executor-test.cc src/cuda-api.cc src/devices.cc src/dense-plan.cc src/dense-executor.cc -ldl \
  || { echo "FAIL: g++"; exit 1; }
"$BUILD/dense-executor-test" "$BUILD/nereid_cuda_kernels.fatbin" || status=1

echo "== CUDA shared memory across processes (cudaIpc*)"
g++ -std=c++17 -O2 -Wall -o "$BUILD/cuda-ipc-test" test/cuda-ipc-test.cc src/cuda-api.cc src/devices.cc src/dense-plan.cc src/dense-executor.cc src/cuda-shared-memory.cc -ldl \
  && "$BUILD/cuda-ipc-test" "$BUILD/nereid_cuda_kernels.fatbin" || status=1

# The Node path, when a node binary and the built addon came along (run's carry:
# native/build and a node binary on the PATH; neither is there by default).
ADDON="$REPO/native/build/Release/nereid_cuda.node"
if command -v node >/dev/null && [ -f "$ADDON" ]; then
  echo "== CUDA shared memory through the Node addon (CudaSharedMemory)"
  node test/cuda-shm-addon-check.mjs "$BUILD/cuda-ipc-test" "$BUILD/nereid_cuda_kernels.fatbin" "$ADDON" || status=1
else
  echo "== Node addon check skipped: $(command -v node >/dev/null || echo 'no node binary; ')$([ -f "$ADDON" ] || echo "no $ADDON")"
fi

if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  echo "== benchmark: mlp FP16, Nereid's executor in-process vs PyTorch (one run)"
  BENCH=${OUT:-$BUILD}/bench.jsonl
  python3 "$REPO/bench/cuda/pytorch-mlp-bench.py" --weights "$BUILD/mlp-weights.bin" | tee "$BENCH"
  "$BUILD/dense-executor-test" "$BUILD/nereid_cuda_kernels.fatbin" --bench "$BUILD/mlp-weights.bin" | tee -a "$BENCH"
  python3 - "$BENCH" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
by = {(r["impl"], r["batch"]): r for r in rows}
print("batch | pytorch us | nereid us | nereid/pytorch throughput")
for batch in (1, 64, 256, 1024):
    p, n = by.get(("pytorch", batch)), by.get(("nereid-cuda", batch))
    if p and n:
        print(f"{batch} | {p['us_per_batch']} | {n['us_per_batch']} | {p['us_per_batch'] / n['us_per_batch']:.2f}")
PY
else
  echo "== benchmark skipped: python3 with a CUDA-enabled torch is not available"
fi
echo "== check-gpu.sh: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
