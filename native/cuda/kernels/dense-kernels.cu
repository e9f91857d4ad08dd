// The small kernels of Nereid's dense-layer executor (native/cuda/src/dense-executor.cc);
// the matrix products are cuBLASLt's. Compiled by native/build.js into a fatbin that the
// addon loads with cudaLibraryLoadData, so the addon itself needs no CUDA toolkit.
// Names are extern "C" so that the loader finds them as written; each element type has
// its own entry point (_f32, _f16, _bf16). Arithmetic is done in float.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

__device__ inline float load(const float* p, long long i) { return p[i]; }
__device__ inline float load(const __half* p, long long i) { return __half2float(p[i]); }
__device__ inline float load(const __nv_bfloat16* p, long long i) { return __bfloat162float(p[i]); }
__device__ inline void store(float* p, long long i, float v) { p[i] = v; }
__device__ inline void store(__half* p, long long i, float v) { p[i] = __float2half_rn(v); }
__device__ inline void store(__nv_bfloat16* p, long long i, float v) { p[i] = __float2bfloat16_rn(v); }

#define GRID_STRIDE(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)blockDim.x * gridDim.x)

template <typename From, typename To>
__device__ void convert(const From* in, To* out, long long n) {
  GRID_STRIDE(i, n) store(out, i, load(in, i));
}

template <typename T>
__device__ void add(const T* a, const T* b, T* out, long long n) {
  GRID_STRIDE(i, n) store(out, i, load(a, i) + load(b, i));
}

/** out[r][c] = in[r][c] + bias[c]: ONNX Add of a [cols] initializer, broadcast over rows. */
template <typename T>
__device__ void addBias(const T* in, const T* bias, T* out, long long rows, long long cols) {
  GRID_STRIDE(i, rows * cols) store(out, i, load(in, i) + load(bias, i % cols));
}

template <typename T>
__device__ void relu(const T* in, T* out, long long n) {
  GRID_STRIDE(i, n) store(out, i, fmaxf(load(in, i), 0.0f));
}

template <typename T>
__device__ void sigmoid(const T* in, T* out, long long n) {
  GRID_STRIDE(i, n) store(out, i, 1.0f / (1.0f + expf(-load(in, i))));
}

template <typename T>
__device__ void tanhOp(const T* in, T* out, long long n) {
  GRID_STRIDE(i, n) store(out, i, tanhf(load(in, i)));
}

/** Softmax over the last axis: one block per row, the row's max and sum reduced in shared memory. */
template <typename T>
__device__ void softmax(const T* in, T* out, long long rows, long long cols) {
  __shared__ float scratch[256];
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* x = in + row * cols;
    T* y = out + row * cols;
    float localMax = -INFINITY;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) localMax = fmaxf(localMax, load(x, c));
    scratch[threadIdx.x] = localMax;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) scratch[threadIdx.x] = fmaxf(scratch[threadIdx.x], scratch[threadIdx.x + s]);
      __syncthreads();
    }
    const float rowMax = scratch[0];
    __syncthreads();
    float localSum = 0;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) localSum += expf(load(x, c) - rowMax);
    scratch[threadIdx.x] = localSum;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
      __syncthreads();
    }
    const float rowSum = scratch[0];
    __syncthreads();
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) store(y, c, expf(load(x, c) - rowMax) / rowSum);
  }
}

}  // namespace

#define ELEMENTWISE(T, suffix)                                                                                             \
  extern "C" __global__ void nereid_add_##suffix(const T* a, const T* b, T* out, long long n) { add(a, b, out, n); }        \
  extern "C" __global__ void nereid_add_bias_##suffix(const T* in, const T* bias, T* out, long long rows, long long cols) { \
    addBias(in, bias, out, rows, cols);                                                                                    \
  }                                                                                                                        \
  extern "C" __global__ void nereid_relu_##suffix(const T* in, T* out, long long n) { relu(in, out, n); }                  \
  extern "C" __global__ void nereid_sigmoid_##suffix(const T* in, T* out, long long n) { sigmoid(in, out, n); }            \
  extern "C" __global__ void nereid_tanh_##suffix(const T* in, T* out, long long n) { tanhOp(in, out, n); }                \
  extern "C" __global__ void nereid_softmax_##suffix(const T* in, T* out, long long rows, long long cols) {                 \
    softmax(in, out, rows, cols);                                                                                          \
  }                                                                                                                        \
  extern "C" __global__ void nereid_from_f32_##suffix(const float* in, T* out, long long n) { convert(in, out, n); }       \
  extern "C" __global__ void nereid_to_f32_##suffix(const T* in, float* out, long long n) { convert(in, out, n); }

ELEMENTWISE(float, f32)
ELEMENTWISE(__half, f16)
ELEMENTWISE(__nv_bfloat16, bf16)
