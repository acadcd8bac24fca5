// FULLY_CONNECTED for int8 with a 2-D output, on CMSIS-NN builds for cores without a vector extension, as a
// kernel of our own.
//
// TFLM's CMSIS-NN kernel runs a batched FULLY_CONNECTED as a 1x1 convolution (CMSIS-NN's matrix kernel,
// two rows by two columns at a time) only when the output has more than two dimensions; for a (64, 128)
// output it multiplies row by row instead, reloading every weight for every row. The model's attention
// output projection has such an output: on the Cortex-M4 the 1x1 path saves 2.0 M instructions an Invoke
// (benchmarks/results/device.md). Ours sends that case down TFLM's own 1x1 path (the same CMSIS-NN call
// with the same parameters, so the same results), the per-tensor rescaling spread over the channels on the
// stack instead of in a scratch buffer, so the arena is unchanged. TFLM's Init and Prepare run as they
// are; every other case goes to TFLM's kernel.
#ifndef EMBBERT_FULLY_CONNECTED_H_
#define EMBBERT_FULLY_CONNECTED_H_

#include "tensorflow/lite/micro/kernels/kernel_util.h"

namespace embbert {

// The registration (TFLM's type); parse with tflite::ParseFullyConnected.
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_FULLY_CONNECTED();

}  // namespace embbert

#endif  // EMBBERT_FULLY_CONNECTED_H_
