// TFLM's fixed-point rescaling of an int32 by a quantized multiplier, written out for the hot loops of our
// kernels. The result is TFLM's: kernel_test compares it with TFLM's function on millions of values.
#ifndef EMBBERT_RESCALE_H_
#define EMBBERT_RESCALE_H_

#include <stdint.h>

#include "tensorflow/lite/kernels/internal/common.h"

namespace embbert {

// tflite::MultiplyByQuantizedMultiplierSmallerThanOneExp(x, multiplier, -right_shift), for multiplier > 0 and
// 0 <= right_shift <= 31. gemmlowp's rounding doubling high multiply is (x * m + 2^30) >> 31 for every m > 0
// (its sign-dependent nudge and truncating division round the same way), then its rounding right shift
// (half away from zero): about half the instructions of the generic pair on a Cortex-M.
inline int32_t RescaleDown(int32_t x, int32_t multiplier, int right_shift) {
#if TFLITE_SINGLE_ROUNDING  // TFLM's other rounding: its own function
  return tflite::MultiplyByQuantizedMultiplierSmallerThanOneExp(x, multiplier, -right_shift);
#else
  const int32_t high = static_cast<int32_t>((static_cast<int64_t>(x) * multiplier + (int64_t{1} << 30)) >> 31);
  const int32_t mask = static_cast<int32_t>((int64_t{1} << right_shift) - 1);
  const int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
  return (high >> right_shift) + ((high & mask) > threshold ? 1 : 0);
#endif
}

// tflite::MultiplyByQuantizedMultiplier(x, multiplier, shift) (any shift, multiplier >= 0), the same way.
inline int32_t Rescale(int32_t x, int32_t multiplier, int shift) {
#if TFLITE_SINGLE_ROUNDING
  return tflite::MultiplyByQuantizedMultiplier(x, multiplier, shift);
#else
  // TFLM's x * (1 << left_shift), wrapping as it does in practice, without signed overflow here.
  const int32_t shifted = shift > 0 ? static_cast<int32_t>(static_cast<uint32_t>(x) << shift) : x;
  return RescaleDown(shifted, multiplier, shift > 0 ? 0 : -shift);
#endif
}

}  // namespace embbert

#endif  // EMBBERT_RESCALE_H_
