// MEAN of int8 tensors over their last axis, as a kernel of our own.
//
// RMSNorm averages each token's squares over the last axis: (64, 128) -> (64, 1) per norm. TFLM's MEAN
// walks every element through its generic N-dimension reduction (index arithmetic for each, ~110
// instructions an element on a Cortex-M). Ours sums each row in a plain loop, then rescales each sum
// with the multiplier and shift TFLM's Prepare computed, adjusted for the row length exactly as TFLM's
// QuantizedMeanOrSum does: the same results. Other axes and types go to TFLM's kernel.
//
// Not on the Arduino port: its older TFLM rescales the mean differently, so there TFLM's kernel runs.
#ifndef EMBBERT_MEAN_LAST_AXIS_H_
#define EMBBERT_MEAN_LAST_AXIS_H_

#include "tensorflow/lite/micro/kernels/kernel_util.h"

namespace embbert {

// The registration (TFLM's type); parse with tflite::ParseReducer.
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_MEAN();

}  // namespace embbert

#endif  // EMBBERT_MEAN_LAST_AXIS_H_
