// Our kernels against TFLM's reference kernels, in the same binary, bit for bit: random shapes
// (transposed operands, broadcast batch dimensions) and random quantization parameters.
//
//   kernel_test [cases]      prints one line per kernel; exits 1 at the first mismatch
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <random>

#include "batch_matmul.h"
#include "tensorflow/lite/micro/kernels/kernel_runner.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/test_helpers.h"

namespace {

// Runs one BATCH_MATMUL with `registration` (shapes as TFLite's int arrays: {rank, dims...}).
bool RunBatchMatMul(const TFLMRegistration& registration, int* lhs_dims, const int8_t* lhs, float lhs_scale,
                    int lhs_zero, int* rhs_dims, const int8_t* rhs, float rhs_scale, int rhs_zero, int* out_dims,
                    int8_t* out, float out_scale, int out_zero, bool adj_x, bool adj_y) {
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::IntArrayFromInts;
  TfLiteTensor tensors[3] = {
      CreateQuantizedTensor(lhs, IntArrayFromInts(lhs_dims), lhs_scale, lhs_zero),
      CreateQuantizedTensor(rhs, IntArrayFromInts(rhs_dims), rhs_scale, rhs_zero),
      CreateQuantizedTensor(out, IntArrayFromInts(out_dims), out_scale, out_zero),
  };
  int inputs[] = {2, 0, 1}, outputs[] = {1, 2};
  TfLiteBatchMatMulParams params = {adj_x, adj_y, false};
  tflite::micro::KernelRunner runner(registration, tensors, 3, IntArrayFromInts(inputs), IntArrayFromInts(outputs),
                                     &params);
  return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
}

int TestBatchMatMul(int cases, std::mt19937* rng) {
  auto uniform = [rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng); };
  int checked = 0;
  for (int c = 0; c < cases; ++c) {
    const int rank = uniform(2, 4);
    const int rows = uniform(1, 9), depth = uniform(1, 17), cols = uniform(1, 9);
    const bool adj_x = uniform(0, 1), adj_y = uniform(0, 1);
    int lhs_dims[5] = {rank}, rhs_dims[5] = {rank}, out_dims[5] = {rank};
    int lhs_n = rows * depth, rhs_n = depth * cols, out_n = rows * cols;
    for (int i = 1; i <= rank - 2; ++i) {  // batch dimensions, each broadcast on one side now and then
      const int d = uniform(1, 3), which = uniform(0, 3);
      lhs_dims[i] = which == 1 ? 1 : d;
      rhs_dims[i] = which == 2 ? 1 : d;
      out_dims[i] = d;
      lhs_n *= lhs_dims[i];
      rhs_n *= rhs_dims[i];
      out_n *= d;
    }
    lhs_dims[rank - 1] = adj_x ? depth : rows;
    lhs_dims[rank] = adj_x ? rows : depth;
    rhs_dims[rank - 1] = adj_y ? cols : depth;
    rhs_dims[rank] = adj_y ? depth : cols;
    out_dims[rank - 1] = rows;
    out_dims[rank] = cols;
    int8_t lhs[1024], rhs[1024], want[1024], got[1024];
    for (int i = 0; i < lhs_n; ++i) lhs[i] = static_cast<int8_t>(uniform(-128, 127));
    for (int i = 0; i < rhs_n; ++i) rhs[i] = static_cast<int8_t>(uniform(-128, 127));
    const float lhs_scale = std::uniform_real_distribution<float>(0.001f, 0.1f)(*rng);
    const float rhs_scale = std::uniform_real_distribution<float>(0.001f, 0.1f)(*rng);
    // An output scale near the products' spread, so outputs use the int8 range and sometimes saturate.
    const float out_scale = lhs_scale * rhs_scale * 128.0f * std::uniform_real_distribution<float>(0.05f, 4.0f)(*rng);
    const int lhs_zero = uniform(-128, 127), rhs_zero = uniform(-128, 127), out_zero = uniform(-128, 127);
    memset(want, 0, sizeof(want));
    memset(got, 1, sizeof(got));
    if (!RunBatchMatMul(tflite::Register_BATCH_MATMUL(), lhs_dims, lhs, lhs_scale, lhs_zero, rhs_dims, rhs,
                        rhs_scale, rhs_zero, out_dims, want, out_scale, out_zero, adj_x, adj_y)) {
      continue;  // a case TFLM itself rejects (none expected; counted below)
    }
    if (!RunBatchMatMul(embbert::Register_BATCH_MATMUL(), lhs_dims, lhs, lhs_scale, lhs_zero, rhs_dims, rhs,
                        rhs_scale, rhs_zero, out_dims, got, out_scale, out_zero, adj_x, adj_y) ||
        memcmp(want, got, static_cast<size_t>(out_n)) != 0) {
      printf("FAIL BATCH_MATMUL case %d: rank %d, %dx%dx%d, adj_x %d, adj_y %d\n", c, rank, rows, depth, cols,
             adj_x, adj_y);
      return 1;
    }
    ++checked;
  }
  printf("PASS BATCH_MATMUL: %d of %d random cases bit-exact with TFLM's reference kernel\n", checked, cases);
  return checked == cases ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? atoi(argv[1]) : 500;
  std::mt19937 rng(20261204);
  return TestBatchMatMul(cases, &rng);
}
