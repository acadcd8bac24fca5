// DEPTHWISE_CONV_2D for int8, one channel per input channel, stride 1, no padding, as a kernel of our own.
//
// The model's token mixer is a depthwise convolution over the sequence, 32 taps wide, 128 channels: 6 % of
// the multiply-accumulates, but 12 % of a CMSIS-NN Invoke on the Cortex-M4. Where CMSIS-NN has no vector
// extension (Cortex-M4, M7, M33) its
// kernel first copies every 32-tap window of every output into a 16-bit buffer, then multiplies: ~9
// instructions per multiply-accumulate. Ours reads the input in place, four channels a 32-bit word,
// unpacked into 16-bit halves and multiplied with the DSP extension's halfword multiply-accumulates, two
// neighbouring outputs sharing each weight and input word (a plain loop on cores without DSP), and
// rescales with TFLM's arithmetic: the same results.
// The input offset's share (offset x the sum of each channel's taps) joins the bias once an Invoke.
//
// TFLM's Init and Prepare run as they are (so the arena and TFLM's parameters are TFLM's), and every other
// case (strides, dilation, padding, depth multipliers, other types) goes to TFLM's kernel.
#ifndef EMBBERT_DEPTHWISE_CONV_H_
#define EMBBERT_DEPTHWISE_CONV_H_

#include "tensorflow/lite/micro/kernels/kernel_util.h"

namespace embbert {

// The registration (TFLM's type); parse with tflite::ParseDepthwiseConv2D.
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_DEPTHWISE_CONV_2D();

}  // namespace embbert

#endif  // EMBBERT_DEPTHWISE_CONV_H_
