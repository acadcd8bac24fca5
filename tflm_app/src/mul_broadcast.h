// MUL for int8 tensors where one operand repeats along the other's leading or trailing axes, as a kernel
// of our own.
//
// The model multiplies (64, 128) activations by a per-token (64, 1) factor (RMSNorm) and by a per-channel
// (128,) gain. TFLM sends every broadcast MUL through its generic six-dimension index loop, which costs
// ~50-100 instructions an element. Here the same cases run block by block through an elementwise loop:
// TFLM's own (MulElementwise, the arithmetic of its broadcast loop), or on CMSIS-NN builds the vector loop
// TFLM's CMSIS-NN MUL uses for same shapes: the same results, at the elementwise cost.
// TFLM's Init and Prepare compute the parameters; every other case (same shapes, which CMSIS-NN speeds
// up, other broadcasts and types) goes to TFLM's kernel.
#ifndef EMBBERT_MUL_BROADCAST_H_
#define EMBBERT_MUL_BROADCAST_H_

#include "tensorflow/lite/micro/kernels/kernel_util.h"

namespace embbert {

// The registration (TFLM's type of the TFLM version it is built with); parse with tflite::ParseMul.
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_MUL();

}  // namespace embbert

#endif  // EMBBERT_MUL_BROADCAST_H_
