// ADD and SUB for int8 tensors of the same shape, or where one operand repeats along the other's leading
// or trailing axes, as kernels of our own.
//
// TFLM's int8 ADD and SUB rescale each input element on its own (offset, left shift, one fixed-point
// multiply), then add or subtract and rescale the result: three multiplies an element, ~95 instructions
// on a Cortex-M, more through the broadcast index loop. An int8 input has only 256 values, so ours
// rescales those 256 per input once per Invoke, with TFLM's own function, and looks every element up:
// one multiply an element, and the same results by construction. The model subtracts its (64, 128)
// activations' RMSNorm centre and adds the attention mask ((L, L) + (1, L)) this way.
//
// Tensors under 512 elements go to TFLM's arithmetic (the tables would cost more than they save), as do
// other broadcasts. On CMSIS-NN builds a same-shape ADD runs CMSIS-NN's vector loop, as TFLM's CMSIS-NN
// ADD does; that ADD keeps its parameters private, so there ours runs int8 only.
#ifndef EMBBERT_ADD_SUB_H_
#define EMBBERT_ADD_SUB_H_

#include "tensorflow/lite/micro/kernels/kernel_util.h"

namespace embbert {

// The registrations (TFLM's type of the TFLM version it is built with); parse with tflite::ParseAdd and
// tflite::ParseSub.
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_ADD();
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_SUB();

}  // namespace embbert

#endif  // EMBBERT_ADD_SUB_H_
