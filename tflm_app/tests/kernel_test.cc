// Our kernels against TFLM's, in the same binary, bit for bit (TFLM's reference kernels on the host; on a
// Cortex-M build, under QEMU, those of its tree, CMSIS-NN's where it has them): LOGISTIC on all 256 int8
// inputs under random quantization parameters; MUL, ADD and SUB on random broadcasts (a row or a
// per-block scalar repeated over the other operand, either order, same shapes, and shapes they leave to
// TFLM; ADD and SUB also with fused activations, below and above the size where tables pay); MEAN over
// the last axis and others, with and without keep_dims; DEPTHWISE_CONV_2D on random shapes (and strides,
// dilations, padding and depth multipliers it leaves to TFLM); FULLY_CONNECTED with 2-D and 3-D outputs,
// with and without bias; BATCH_MATMUL on random shapes (transposed
// operands, broadcast batch dimensions); random quantization parameters throughout. And our written-out
// fixed-point rescaling (rescale.h) against TFLM's function on random and edge values.
//
//   kernel_test [cases]      prints one line per kernel; exits 1 at the first mismatch
//   scripts/run.sh --board mps2-an386 build/m4/kernel_test.elf 200      (a Cortex-M build)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "add_sub.h"
#include "batch_matmul.h"
#include "depthwise_conv.h"
#include "fully_connected.h"
#include "logistic_table.h"
#include "mean_last_axis.h"
#include "rescale.h"
#include "mul_broadcast.h"
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

// Runs one LOGISTIC over `n` int8 values with `registration`.
bool RunLogistic(const TFLMRegistration& registration, const int8_t* in, float in_scale, int in_zero, int8_t* out,
                 int n) {
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::IntArrayFromInts;
  int dims[] = {2, 1, n};
  TfLiteTensor tensors[2] = {
      CreateQuantizedTensor(in, IntArrayFromInts(dims), in_scale, in_zero),
      CreateQuantizedTensor(out, IntArrayFromInts(dims), 1.0f / 256, -128),  // what the converter always gives
  };
  int inputs[] = {1, 0}, outputs[] = {1, 1};
  tflite::micro::KernelRunner runner(registration, tensors, 2, IntArrayFromInts(inputs), IntArrayFromInts(outputs),
                                     nullptr);
  return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
}

// RescaleDown against TFLM's MultiplyByQuantizedMultiplierSmallerThanOneExp: `cases` x 1,000 random values
// (any int32, and near-ties of every shift), plus the extremes, for random multipliers and every shift.
int TestRescale(int cases, std::mt19937* rng) {
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX), positive(1, INT32_MAX);
  long checked = 0;
  for (int c = 0; c < cases; ++c) {
    const int32_t m = c % 4 == 0 ? (c % 8 == 0 ? INT32_MAX : (1 << 30)) : positive(*rng);
    const int right_shift = c % 32;
    for (int i = 0; i < 1000; ++i) {
      int32_t x = any(*rng);
      if (i % 3 == 1) x = static_cast<int32_t>((x >> right_shift) * (int64_t{1} << right_shift) / 2);  // near ties
      if (i == 0) x = INT32_MIN;
      if (i == 1) x = INT32_MAX;
      if (i == 2) x = 0;
      const int32_t want = tflite::MultiplyByQuantizedMultiplierSmallerThanOneExp(x, m, -right_shift);
      const int32_t got = embbert::RescaleDown(x, m, right_shift);
      if (want != got) {
        printf("FAIL rescale: x %ld, multiplier %ld, right shift %d: TFLM %ld, ours %ld\n", static_cast<long>(x),
               static_cast<long>(m), right_shift, static_cast<long>(want), static_cast<long>(got));
        return 1;
      }
      ++checked;
    }
  }
  printf("PASS rescale: %ld values equal to TFLM's MultiplyByQuantizedMultiplierSmallerThanOneExp\n", checked);
  return 0;
}

int TestLogistic(int cases, std::mt19937* rng) {
  // Every int8 value 3 times in a shuffled order: longer than the table, so our kernel uses it.
  constexpr int kN = 3 * 256;
  int8_t every[kN], want[kN], got[kN];
  for (int i = 0; i < kN; ++i) every[i] = static_cast<int8_t>(i % 256 - 128);
  std::shuffle(every, every + kN, *rng);
  for (int c = 0; c < cases; ++c) {
    // Scales from tiny (all outputs near 0.5) to large (all saturated), log-uniform; any zero point.
    const float scale = std::exp(std::uniform_real_distribution<float>(std::log(1e-4f), std::log(1.0f))(*rng));
    const int zero = std::uniform_int_distribution<int>(-128, 127)(*rng);
    memset(want, 0, sizeof(want));
    memset(got, 1, sizeof(got));
    if (!RunLogistic(tflite::Register_LOGISTIC(), every, scale, zero, want, kN) ||
        !RunLogistic(embbert::Register_LOGISTIC(), every, scale, zero, got, kN) || memcmp(want, got, kN) != 0) {
      printf("FAIL LOGISTIC case %d: input scale %g, zero point %d\n", c, scale, zero);
      return 1;
    }
  }
  printf("PASS LOGISTIC: all 256 int8 inputs bit-exact with TFLM's kernel under %d random "
         "quantizations\n", cases);
  return 0;
}

// Runs one MUL, ADD or SUB (`params`: its TfLite*Params) with `registration` (shapes as TFLite's int
// arrays: {rank, dims...}).
bool RunBinary(const TFLMRegistration& registration, void* params, int* a_dims, const int8_t* a, float a_scale,
               int a_zero, int* b_dims, const int8_t* b, float b_scale, int b_zero, int* out_dims, int8_t* out,
               float out_scale, int out_zero) {
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::IntArrayFromInts;
  TfLiteTensor tensors[3] = {
      CreateQuantizedTensor(a, IntArrayFromInts(a_dims), a_scale, a_zero),
      CreateQuantizedTensor(b, IntArrayFromInts(b_dims), b_scale, b_zero),
      CreateQuantizedTensor(out, IntArrayFromInts(out_dims), out_scale, out_zero),
  };
  int inputs[] = {2, 0, 1}, outputs[] = {1, 2};
  tflite::micro::KernelRunner runner(registration, tensors, 3, IntArrayFromInts(inputs), IntArrayFromInts(outputs),
                                     params);
  return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
}

bool RunMul(const TFLMRegistration& registration, int* a_dims, const int8_t* a, float a_scale, int a_zero,
            int* b_dims, const int8_t* b, float b_scale, int b_zero, int* out_dims, int8_t* out, float out_scale,
            int out_zero) {
  TfLiteMulParams params = {kTfLiteActNone};
  return RunBinary(registration, &params, a_dims, a, a_scale, a_zero, b_dims, b, b_scale, b_zero, out_dims, out,
                   out_scale, out_zero);
}

// The dims ({rank, dims...}) of an operand repeated over `out_dims` by broadcast `kind`: 0 a trailing row
// (dims from `split` on), 1 a per-block scalar (dims up to `split`), 2 a scalar, 3 any mix of 1s, 4 the
// same shape. Returns its element count.
int RepeatedDims(int kind, int split, const int* out_dims, int* small_dims, std::mt19937* rng) {
  int n = 1;
  for (int i = 1; i <= out_dims[0]; ++i) {
    int d = out_dims[i];
    if (kind == 0) d = i > split - 1 ? out_dims[i] : 1;
    if (kind == 1) d = i <= split ? out_dims[i] : 1;
    if (kind == 2) d = 1;
    if (kind == 3) d = std::uniform_int_distribution<int>(0, 1)(*rng) ? out_dims[i] : 1;
    small_dims[i] = d;
    n *= d;
  }
  return n;
}

int TestMul(int cases, std::mt19937* rng) {
  auto uniform = [rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng); };
  int checked = 0;
  for (int c = 0; c < cases; ++c) {
    const int rank = uniform(1, 4);
    int out_dims[5] = {rank}, small_dims[5] = {rank}, out_n = 1;
    for (int i = 1; i <= rank; ++i) out_n *= (out_dims[i] = uniform(1, 6));
    // The other operand: a trailing row, a per-block scalar over the leading dims, a scalar, or any
    // mix of 1s (which TFLM's kernel runs, through ours).
    const int kind = uniform(0, 3), split = uniform(1, rank);
    int small_rank = rank;
    const int small_n = RepeatedDims(kind, split, out_dims, small_dims, rng);
    if (kind == 0 && uniform(0, 1)) {  // a row given without its leading 1s, as the model's (128,) gain
      small_rank = rank - (split - 1);
      for (int i = 1; i <= small_rank; ++i) small_dims[i] = small_dims[i + split - 1];
      small_dims[0] = small_rank;
    }
    int8_t full[1296], small[1296], want[1296], got[1296];
    for (int i = 0; i < out_n; ++i) full[i] = static_cast<int8_t>(uniform(-128, 127));
    for (int i = 0; i < small_n; ++i) small[i] = static_cast<int8_t>(uniform(-128, 127));
    const float fs = std::uniform_real_distribution<float>(0.001f, 0.1f)(*rng);
    const float ss = std::uniform_real_distribution<float>(0.001f, 0.1f)(*rng);
    const float os = fs * ss * 128.0f * std::uniform_real_distribution<float>(0.05f, 4.0f)(*rng);
    const int fz = uniform(-128, 127), sz = uniform(-128, 127), oz = uniform(-128, 127);
    const bool swap = uniform(0, 1);  // the repeated operand first
    memset(want, 0, sizeof(want));
    memset(got, 1, sizeof(got));
    auto run = [&](const TFLMRegistration& r, int8_t* out) {
      return swap ? RunMul(r, small_dims, small, ss, sz, out_dims, full, fs, fz, out_dims, out, os, oz)
                  : RunMul(r, out_dims, full, fs, fz, small_dims, small, ss, sz, out_dims, out, os, oz);
    };
    if (!run(tflite::Register_MUL(), want)) continue;  // a case TFLM itself rejects (counted below)
    if (!run(embbert::Register_MUL(), got) || memcmp(want, got, static_cast<size_t>(out_n)) != 0) {
      printf("FAIL MUL case %d: rank %d, kind %d, split %d, swap %d\n", c, rank, kind, split, swap);
      return 1;
    }
    ++checked;
  }
  printf("PASS MUL: %d of %d random broadcasts bit-exact with TFLM's kernel\n", checked, cases);
  return checked == cases ? 0 : 1;
}

// ADD or SUB (`sub`) on random shapes: the other operand a trailing row, a per-block scalar, a scalar, the
// same shape (sometimes without the output's leading 1s), or any mix of 1s (TFLM's loop, through ours).
int TestAddSub(bool sub, int cases, std::mt19937* rng) {
  auto uniform = [rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng); };
  auto log_uniform = [rng](float lo, float hi) {
    return std::exp(std::uniform_real_distribution<float>(std::log(lo), std::log(hi))(*rng));
  };
  constexpr int kMax = 12 * 12 * 12 * 12;
  static int8_t full[kMax], small[kMax], want[kMax], got[kMax];
  int checked = 0, tabled = 0;
  for (int c = 0; c < cases; ++c) {
    const int rank = uniform(1, 4), largest = uniform(0, 1) ? 12 : 6;  // half of them large enough for tables
    int out_dims[5] = {rank}, small_dims[5] = {rank}, full_dims[5] = {rank}, out_n = 1;
    for (int i = 1; i <= rank; ++i) out_n *= (out_dims[i] = uniform(1, largest));
    const int kind = uniform(0, 4), split = uniform(1, rank);
    const int small_n = RepeatedDims(kind, split, out_dims, small_dims, rng);
    // The full operand as the output, or without a leading 1 (the model's (64, 128) - (1, 64, 128)).
    memcpy(full_dims, out_dims, sizeof(out_dims));
    if (rank > 1 && out_dims[1] == 1 && uniform(0, 1)) {
      full_dims[0] = rank - 1;
      for (int i = 1; i < rank; ++i) full_dims[i] = out_dims[i + 1];
    }
    for (int i = 0; i < out_n; ++i) full[i] = static_cast<int8_t>(uniform(-128, 127));
    for (int i = 0; i < small_n; ++i) small[i] = static_cast<int8_t>(uniform(-128, 127));
    const float fs = log_uniform(1e-3f, 1.0f), ss = log_uniform(1e-3f, 1.0f);
    const float os = std::max(fs, ss) * log_uniform(0.1f, 4.0f);
    const int fz = uniform(-128, 127), sz = uniform(-128, 127), oz = uniform(-128, 127);
    const TfLiteFusedActivation activations[] = {kTfLiteActNone, kTfLiteActRelu, kTfLiteActRelu6};
    const TfLiteFusedActivation activation = activations[uniform(0, 2)];
    const bool swap = uniform(0, 1);  // the repeated operand first
    memset(want, 0, static_cast<size_t>(out_n));
    memset(got, 1, static_cast<size_t>(out_n));
    auto run = [&](const TFLMRegistration& r, int8_t* out) {
      TfLiteAddParams add_params = {activation, false};
      TfLiteSubParams sub_params = {activation, false};
      void* params = sub ? static_cast<void*>(&sub_params) : static_cast<void*>(&add_params);
      return swap ? RunBinary(r, params, small_dims, small, ss, sz, full_dims, full, fs, fz, out_dims, out, os, oz)
                  : RunBinary(r, params, full_dims, full, fs, fz, small_dims, small, ss, sz, out_dims, out, os, oz);
    };
    if (!run(sub ? tflite::Register_SUB() : tflite::Register_ADD(), want)) continue;  // TFLM rejects it
    if (!run(sub ? embbert::Register_SUB() : embbert::Register_ADD(), got) ||
        memcmp(want, got, static_cast<size_t>(out_n)) != 0) {
      printf("FAIL %s case %d: rank %d, kind %d, split %d, swap %d, %d elements\n", sub ? "SUB" : "ADD", c, rank,
             kind, split, swap, out_n);
      return 1;
    }
    ++checked;
    tabled += out_n >= 512;
  }
  printf("PASS %s: %d of %d random cases (%d of 512 elements or more) bit-exact with TFLM's kernel\n",
         sub ? "SUB" : "ADD", checked, cases, tabled);
  return checked == cases && tabled > 0 ? 0 : 1;
}

// Runs one MEAN of `in` (dims {rank, ...}) over `axes` with `registration`.
bool RunMean(const TFLMRegistration& registration, int* in_dims, const int8_t* in, float in_scale, int in_zero,
             int* axis_dims, const int32_t* axes, int* out_dims, int8_t* out, float out_scale, int out_zero,
             bool keep_dims) {
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::CreateTensor;
  using tflite::testing::IntArrayFromInts;
  TfLiteTensor tensors[3] = {
      CreateQuantizedTensor(in, IntArrayFromInts(in_dims), in_scale, in_zero),
      CreateTensor(axes, IntArrayFromInts(axis_dims)),
      CreateQuantizedTensor(out, IntArrayFromInts(out_dims), out_scale, out_zero),
  };
  int inputs[] = {2, 0, 1}, outputs[] = {1, 2};
  TfLiteReducerParams params = {keep_dims};
  tflite::micro::KernelRunner runner(registration, tensors, 3, IntArrayFromInts(inputs), IntArrayFromInts(outputs),
                                     &params);
  return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
}

// MEAN over the last axis (as -1 or rank - 1), and now and then another axis (TFLM's loop, through ours).
int TestMean(int cases, std::mt19937* rng) {
  auto uniform = [rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng); };
  constexpr int kMax = 3 * 3 * 3 * 200;
  static int8_t in[kMax], want[kMax], got[kMax];
  int checked = 0, last = 0;
  for (int c = 0; c < cases; ++c) {
    const int rank = uniform(1, 4);
    int in_dims[5] = {rank}, in_n = 1;
    for (int i = 1; i <= rank; ++i) in_n *= (in_dims[i] = i == rank ? uniform(1, 200) : uniform(1, 3));
    const int axis = uniform(0, 3) ? rank - 1 : uniform(0, rank - 1);
    const int32_t axes[1] = {axis == rank - 1 && uniform(0, 1) ? -1 : axis};
    int axis_dims[2] = {1, 1};
    const bool keep_dims = uniform(0, 1);
    int out_dims[5] = {0}, out_n = 1;
    for (int i = 0; i < rank; ++i) {
      if (i != axis) out_n *= (out_dims[++out_dims[0]] = in_dims[i + 1]);
      else if (keep_dims) out_dims[++out_dims[0]] = 1;
    }
    for (int i = 0; i < in_n; ++i) in[i] = static_cast<int8_t>(uniform(-128, 127));
    const float in_scale = std::uniform_real_distribution<float>(0.001f, 0.1f)(*rng);
    const float out_scale = in_scale * std::uniform_real_distribution<float>(0.05f, 2.0f)(*rng);
    const int in_zero = uniform(-128, 127), out_zero = uniform(-128, 127);
    memset(want, 0, static_cast<size_t>(out_n));
    memset(got, 1, static_cast<size_t>(out_n));
    auto run = [&](const TFLMRegistration& r, int8_t* out) {
      return RunMean(r, in_dims, in, in_scale, in_zero, axis_dims, axes, out_dims, out, out_scale, out_zero,
                     keep_dims);
    };
    if (!run(tflite::Register_MEAN(), want)) continue;  // a case TFLM itself rejects (counted below)
    if (!run(embbert::Register_MEAN(), got) || memcmp(want, got, static_cast<size_t>(out_n)) != 0) {
      printf("FAIL MEAN case %d: rank %d, axis %d, keep_dims %d\n", c, rank, axes[0], keep_dims);
      return 1;
    }
    ++checked;
    last += axis == rank - 1;
  }
  printf("PASS MEAN: %d of %d random cases (%d over the last axis) bit-exact with TFLM's kernel\n",
         checked, cases, last);
  return checked == cases && last > 0 ? 0 : 1;
}

// DEPTHWISE_CONV_2D on random shapes: per-channel weights, with and without bias, fused activations; a
// stride, dilation, SAME padding or depth multiplier of 2 now and then (TFLM's kernel, through ours).
int TestDepthwise(int cases, std::mt19937* rng) {
#if defined(CMSIS_NN) && defined(__ARM_FEATURE_MVE)
  // There CMSIS-NN's vector kernel runs the convolutions, and it differs from TFLM's reference kernel on
  // some shapes (found here: 10 channels, a 22-tap window; ours matches the reference), so it cannot judge
  // ours.
  (void)cases;
  (void)rng;
  printf("SKIP DEPTHWISE_CONV_2D: ours is not registered on cores with a vector extension\n");
  return 0;
#endif
  using tflite::testing::CreatePerChannelQuantizedBiasTensor;
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::CreateSymmetricPerChannelQuantizedTensor;
  using tflite::testing::IntArrayFromInts;
  auto uniform = [rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng); };
  auto real = [rng](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(*rng); };
  constexpr int kMaxC = 2 * 24, kMax = 3 * 48 * kMaxC;
  static int8_t in[kMax], filter[kMax], want[kMax], got[kMax];
  static float filter_real[kMax], bias_real[kMaxC], filter_scales[kMaxC + 1], bias_scales[kMaxC + 1];
  static int32_t bias[kMaxC];
  static int filter_zeros[kMaxC + 1], bias_zeros[kMaxC + 1];
  int checked = 0, ours = 0;
  for (int c = 0; c < cases; ++c) {
    TfLiteDepthwiseConvParams params = {};
    params.padding = uniform(0, 5) == 0 ? kTfLitePaddingSame : kTfLitePaddingValid;
    params.stride_width = params.stride_height = uniform(0, 5) == 0 ? 2 : 1;
    params.dilation_width_factor = params.dilation_height_factor = uniform(0, 7) == 0 ? 2 : 1;
    params.depth_multiplier = uniform(0, 7) == 0 ? 2 : 1;
    const TfLiteFusedActivation activations[] = {kTfLiteActNone, kTfLiteActRelu, kTfLiteActRelu6};
    params.activation = activations[uniform(0, 2)];
    const int channels = uniform(1, 24), out_channels = channels * params.depth_multiplier;
    const int height = uniform(1, 3), width = uniform(1, 48);
    const int kh = uniform(1, height), kw = uniform(1, std::min(width, 33));
    auto out_size = [&](int n, int k) {
      const int stride = params.stride_width, dilated = (k - 1) * params.dilation_width_factor + 1;
      return params.padding == kTfLitePaddingSame ? (n + stride - 1) / stride : (n - dilated) / stride + 1;
    };
    const int oh = out_size(height, kh), ow = out_size(width, kw);
    if (oh <= 0 || ow <= 0) {
      --c;  // a window larger than the input: draw again
      continue;
    }
    int in_dims[] = {4, 1, height, width, channels}, filter_dims[] = {4, 1, kh, kw, out_channels};
    int bias_dims[] = {1, out_channels}, out_dims[] = {4, 1, oh, ow, out_channels};
    const int in_n = height * width * channels, filter_n = kh * kw * out_channels, out_n = oh * ow * out_channels;
    for (int i = 0; i < in_n; ++i) in[i] = static_cast<int8_t>(uniform(-128, 127));
    for (int i = 0; i < filter_n; ++i) filter_real[i] = real(-1.0f, 1.0f);
    for (int i = 0; i < out_channels; ++i) bias_real[i] = real(-2.0f, 2.0f);
    const float in_scale = real(0.005f, 0.05f);
    const float out_scale = in_scale * std::sqrt(static_cast<float>(kh * kw)) * real(0.1f, 2.0f);
    const int in_zero = uniform(-128, 127), out_zero = uniform(-128, 127);
    const bool with_bias = uniform(0, 3) != 0;
    TfLiteAffineQuantization filter_quant, bias_quant;
    TfLiteTensor tensors[4] = {
        CreateQuantizedTensor(in, IntArrayFromInts(in_dims), in_scale, in_zero),
        CreateSymmetricPerChannelQuantizedTensor(filter_real, filter, IntArrayFromInts(filter_dims), filter_scales,
                                                 filter_zeros, &filter_quant, 3),
        CreatePerChannelQuantizedBiasTensor(bias_real, bias, IntArrayFromInts(bias_dims), in_scale,
                                            &filter_scales[1], bias_scales, bias_zeros, &bias_quant, 0),
        {},
    };
    auto run = [&](const TFLMRegistration& r, int8_t* out) {
      tensors[3] = CreateQuantizedTensor(out, IntArrayFromInts(out_dims), out_scale, out_zero);
      int inputs_with_bias[] = {3, 0, 1, 2}, inputs_without[] = {2, 0, 1}, outputs[] = {1, 3};
      tflite::micro::KernelRunner runner(r, tensors, 4, IntArrayFromInts(with_bias ? inputs_with_bias : inputs_without),
                                         IntArrayFromInts(outputs), &params);
      return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
    };
    memset(want, 0, static_cast<size_t>(out_n));
    memset(got, 1, static_cast<size_t>(out_n));
    if (!run(tflite::Register_DEPTHWISE_CONV_2D(), want)) continue;  // TFLM rejects it (counted below)
    if (!run(embbert::Register_DEPTHWISE_CONV_2D(), got) || memcmp(want, got, static_cast<size_t>(out_n)) != 0) {
      printf("FAIL DEPTHWISE_CONV_2D case %d: in %dx%dx%d, kernel %dx%d, stride %d, dilation %d, padding %d, "
             "multiplier %d\n", c, height, width, channels, kh, kw, params.stride_width,
             params.dilation_width_factor, params.padding, params.depth_multiplier);
      return 1;
    }
    ++checked;
    ours += params.padding == kTfLitePaddingValid && params.stride_width == 1 && params.dilation_width_factor == 1 &&
            params.depth_multiplier == 1;
  }
  printf("PASS DEPTHWISE_CONV_2D: %d of %d random cases (%d ours: stride 1, no padding) bit-exact with TFLM's "
         "kernel\n", checked, cases, ours);
  return checked == cases && ours > 0 ? 0 : 1;
}

// FULLY_CONNECTED on random shapes: 2-D outputs of several rows (ours on CMSIS-NN builds without a vector
// extension), 3-D outputs and depths that are not a multiple of 4 (TFLM's kernel, through ours).
int TestFullyConnected(int cases, std::mt19937* rng) {
  using tflite::testing::CreateQuantizedTensor;
  using tflite::testing::CreateTensor;
  using tflite::testing::IntArrayFromInts;
  auto uniform = [rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng); };
  auto real = [rng](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(*rng); };
  static int8_t in[16 * 48], filter[40 * 48], want[16 * 40], got[16 * 40];
  static int32_t bias[40];
  int checked = 0;
  for (int c = 0; c < cases; ++c) {
    const int rows = uniform(1, 16), depth = uniform(0, 3) ? 4 * uniform(1, 12) : uniform(1, 48);
    const int units = uniform(1, 40);
    const bool rank3 = uniform(0, 3) == 0, with_bias = uniform(0, 3) != 0;
    for (int i = 0; i < rows * depth; ++i) in[i] = static_cast<int8_t>(uniform(-128, 127));
    for (int i = 0; i < units * depth; ++i) filter[i] = static_cast<int8_t>(uniform(-127, 127));
    for (int i = 0; i < units; ++i) bias[i] = uniform(-20000, 20000);
    const float in_scale = real(0.005f, 0.05f), filter_scale = real(0.002f, 0.02f);
    const float out_scale = in_scale * filter_scale * std::sqrt(static_cast<float>(depth)) * 64.0f * real(0.1f, 2.0f);
    const int in_zero = uniform(-128, 127), out_zero = uniform(-128, 127);
    int in_dims[] = {3, 1, rows, depth}, filter_dims[] = {2, units, depth}, bias_dims[] = {1, units};
    int out2[] = {2, rows, units}, out3[] = {3, 1, rows, units};
    TfLiteTensor tensors[4] = {
        CreateQuantizedTensor(in, IntArrayFromInts(in_dims), in_scale, in_zero),
        CreateQuantizedTensor(filter, IntArrayFromInts(filter_dims), filter_scale, 0),
        CreateTensor(bias, IntArrayFromInts(bias_dims)),
        {},
    };
    tensors[2].params.scale = in_scale * filter_scale;
    TfLiteFullyConnectedParams params = {};
    params.activation = uniform(0, 2) ? kTfLiteActNone : kTfLiteActRelu;
    params.keep_num_dims = rank3;
    auto run = [&](const TFLMRegistration& r, int8_t* out) {
      tensors[3] = CreateQuantizedTensor(out, IntArrayFromInts(rank3 ? out3 : out2), out_scale, out_zero);
      int with[] = {3, 0, 1, 2}, without[] = {3, 0, 1, -1}, outputs[] = {1, 3};
      tflite::micro::KernelRunner runner(r, tensors, 4, IntArrayFromInts(with_bias ? with : without),
                                         IntArrayFromInts(outputs), &params);
      return runner.InitAndPrepare() == kTfLiteOk && runner.Invoke() == kTfLiteOk;
    };
    memset(want, 0, sizeof(want));
    memset(got, 1, sizeof(got));
    if (!run(tflite::Register_FULLY_CONNECTED(), want)) continue;  // TFLM rejects it (counted below)
    if (!run(embbert::Register_FULLY_CONNECTED(), got) || memcmp(want, got, static_cast<size_t>(rows * units)) != 0) {
      printf("FAIL FULLY_CONNECTED case %d: %d rows x %d deep x %d units, rank %d, bias %d\n", c, rows, depth, units,
             rank3 ? 3 : 2, with_bias);
      return 1;
    }
    ++checked;
  }
  printf("PASS FULLY_CONNECTED: %d of %d random cases bit-exact with TFLM's kernel\n", checked, cases);
  return checked == cases ? 0 : 1;
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
    static int8_t lhs[2048], rhs[2048], want[2048], got[2048];  // up to 9 batches of 17 x 9
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
  printf("PASS BATCH_MATMUL: %d of %d random cases bit-exact with TFLM's kernel\n", checked, cases);
  return checked == cases ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? atoi(argv[1]) : 500;
  std::mt19937 rng(20261204);
  int failed = TestRescale(cases, &rng);
  failed |= TestLogistic(cases, &rng);
  failed |= TestMul(cases, &rng);
  failed |= TestAddSub(/*sub=*/false, cases, &rng);
  failed |= TestAddSub(/*sub=*/true, cases, &rng);
  failed |= TestMean(cases, &rng);
  failed |= TestDepthwise(cases, &rng);
  failed |= TestFullyConnected(cases, &rng);
  return TestBatchMatMul(cases, &rng) | failed;
}
