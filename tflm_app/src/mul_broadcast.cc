#include "mul_broadcast.h"

#include "broadcast.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/mul.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/kernels/mul.h"
#if defined(CMSIS_NN)
#include "Include/arm_nnfunctions.h"
#endif

namespace embbert {
namespace {

constexpr int kChunk = 128;  // a repeated scalar is expanded into this many bytes of stack at a time

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const TfLiteEvalTensor* input1 = tflite::micro::GetEvalInput(context, node, 0);
  const TfLiteEvalTensor* input2 = tflite::micro::GetEvalInput(context, node, 1);
  TfLiteEvalTensor* output = tflite::micro::GetEvalOutput(context, node, 0);
  if (input1->type != kTfLiteInt8 || input2->type != kTfLiteInt8 || output->type != kTfLiteInt8) {
    return tflite::Register_MUL().invoke(context, node);
  }
  // Which operand is full-size, and how the other repeats over it.
  const bool first_full = tflite::micro::HaveSameShapes(input1, output);
  const bool second_full = tflite::micro::HaveSameShapes(input2, output);
  if (first_full == second_full) return tflite::Register_MUL().invoke(context, node);  // same shapes, or neither
  int block = 0;
  const Repeat repeat = Classify(first_full ? input2->dims : input1->dims, output->dims, &block);
  if (repeat == Repeat::kNone || block <= 0) return tflite::Register_MUL().invoke(context, node);

  // The parameters as TFLM's EvalMulQuantizedReference sets them.
  const auto& data = *static_cast<const tflite::OpDataMul*>(node->user_data);
  tflite::ArithmeticParams params = {};
  params.quantized_activation_min = data.output_activation_min;
  params.quantized_activation_max = data.output_activation_max;
  params.input1_offset = -data.input1_zero_point;
  params.input2_offset = -data.input2_zero_point;
  params.output_offset = data.output_zero_point;
  params.output_multiplier = data.output_multiplier;
  params.output_shift = data.output_shift;

  const int8_t* full = tflite::micro::GetTensorData<int8_t>(first_full ? input1 : input2);
  const int8_t* small = tflite::micro::GetTensorData<int8_t>(first_full ? input2 : input1);
  int8_t* out = tflite::micro::GetTensorData<int8_t>(output);
  const int blocks = tflite::NumElements(output->dims) / block;
  // Keep the operands in the model's order: each has its own offset.
  auto mul = [&](int n, const int8_t* f, const int8_t* s, int8_t* o) {
    const int8_t* a = first_full ? f : s;
    const int8_t* c = first_full ? s : f;
#if defined(CMSIS_NN)
    // CMSIS-NN's vector loop, which TFLM's CMSIS-NN MUL runs on same-shape tensors: the same arithmetic
    // (one doubling high multiply and one rounding shift per element), many elements an instruction.
    arm_elementwise_mul_s8(a, c, params.input1_offset, params.input2_offset, o, params.output_offset,
                           params.output_multiplier, params.output_shift, params.quantized_activation_min,
                           params.quantized_activation_max, n);
#else
    tflite::reference_integer_ops::MulElementwise(n, params, a, c, o);
#endif
  };
  for (int b = 0; b < blocks; ++b, full += block, out += block) {
    if (repeat == Repeat::kRow) {
      mul(block, full, small, out);
    } else {
      int8_t repeated[kChunk];
      for (int i = 0; i < kChunk; ++i) repeated[i] = small[b];
      for (int start = 0; start < block; start += kChunk) {
        const int n = block - start < kChunk ? block - start : kChunk;
        mul(n, full + start, repeated, out + start);
      }
    }
  }
  return kTfLiteOk;
}

}  // namespace

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_MUL() {
  return tflite::micro::RegisterOp(tflite::MulInit, tflite::MulPrepare, Eval);
}

}  // namespace embbert
