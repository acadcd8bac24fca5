// LOGISTIC for int8 tensors through a 256-entry lookup table, as a kernel of our own.
//
// An int8 tensor has only 256 values, so Eval first runs TFLM's own reference arithmetic (its integer
// Logistic, with the parameters its own Prepare computed from the tensor's quantization) on every one of
// them, then looks each element up: the results are TFLM's by construction, on any model. The table lives
// on the stack during Eval, so the arena is exactly TFLM's; building it costs what 256 elements cost,
// against ~450 instructions saved per element on a Cortex-M55 (the SiLU is LOGISTIC then MUL). Small
// tensors and other types go to TFLM's kernel.
#ifndef EMBBERT_LOGISTIC_TABLE_H_
#define EMBBERT_LOGISTIC_TABLE_H_

#include "tensorflow/lite/micro/kernels/kernel_util.h"

namespace embbert {

// The registration (TFLM's type of the TFLM version it is built with); parse with tflite::ParseLogistic.
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_LOGISTIC();

}  // namespace embbert

#endif  // EMBBERT_LOGISTIC_TABLE_H_
