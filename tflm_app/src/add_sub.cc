#include "add_sub.h"

#include <algorithm>

#include "broadcast.h"
#include "rescale.h"
#include "tensorflow/lite/kernels/internal/common.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/add.h"
#include "tensorflow/lite/kernels/internal/reference/process_broadcast_shapes.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/add.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/kernels/sub.h"
#include "tensorflow/lite/micro/micro_log.h"
#if defined(CMSIS_NN)
#include "Include/arm_nnfunctions.h"
#endif

namespace embbert {
namespace {

constexpr int kMinElements = 512;  // below this, two 256-entry tables cost more than they save

// The int8 parameters of TFLM's OpDataAdd and OpDataSub (the same fields), as their Eval passes them on.
template <typename OpData>
tflite::ArithmeticParams ParamsOf(const OpData& d) {
  tflite::ArithmeticParams p = {};
  p.left_shift = d.left_shift;
  p.input1_offset = d.input1_offset;
  p.input1_multiplier = d.input1_multiplier;
  p.input1_shift = d.input1_shift;
  p.input2_offset = d.input2_offset;
  p.input2_multiplier = d.input2_multiplier;
  p.input2_shift = d.input2_shift;
  p.output_offset = d.output_offset;
  p.output_multiplier = d.output_multiplier;
  p.output_shift = d.output_shift;
  p.quantized_activation_min = d.output_activation_min;
  p.quantized_activation_max = d.output_activation_max;
  return p;
}

// table[v + 128] = TFLM's rescaling of the int8 value v (AddFunc, SubElementwise).
void Rescaled(int32_t offset, int left_shift, int32_t multiplier, int shift, int32_t* table) {
  for (int v = -128; v < 128; ++v) {
    table[v + 128] =
        tflite::MultiplyByQuantizedMultiplierSmallerThanOneExp((offset + v) * (1 << left_shift), multiplier, shift);
  }
}

// out[i] = input1 ± input2 for n elements; each input advances by its step (0: one value repeated).
template <bool kSubtract>
void Combine(int n, const int32_t* scaled1, const int8_t* a, int step_a, const int32_t* scaled2, const int8_t* b,
             int step_b, const tflite::ArithmeticParams& p, int8_t* out) {
  const int right_shift = -p.output_shift;
  for (int i = 0; i < n; ++i, a += step_a, b += step_b) {
    const int32_t raw = kSubtract ? scaled1[*a] - scaled2[*b] : scaled1[*a] + scaled2[*b];
    const int32_t v = RescaleDown(raw, p.output_multiplier, right_shift) + p.output_offset;
    out[i] = static_cast<int8_t>(std::min(p.quantized_activation_max, std::max(p.quantized_activation_min, v)));
  }
}

// Runs the cases the tables handle; false for the others.
template <bool kSubtract>
bool EvalWithTables(const TfLiteEvalTensor* input1, const TfLiteEvalTensor* input2, TfLiteEvalTensor* output,
                    const tflite::ArithmeticParams& p) {
  if (input1->type != kTfLiteInt8 || input2->type != kTfLiteInt8 || output->type != kTfLiteInt8) return false;
  const int n = tflite::NumElements(output->dims);
  if (n < kMinElements || p.output_shift > 0 || p.output_shift < -31 || p.output_multiplier <= 0) return false;
  // An operand as large as the output is the output's shape up to leading 1s (Prepare checked the shapes
  // broadcast): both so, one block of n; else how the smaller one repeats over the other.
  const bool full1 = tflite::NumElements(input1->dims) == n;
  const bool full2 = tflite::NumElements(input2->dims) == n;
  if (!full1 && !full2) return false;
  int block = n;
  Repeat repeat = Repeat::kRow;
  if (full1 != full2) {
    repeat = Classify(full1 ? input2->dims : input1->dims, output->dims, &block);
    if (repeat == Repeat::kNone || block <= 0) return false;
  }
  int32_t table1[256], table2[256];
  Rescaled(p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift, table1);
  Rescaled(p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift, table2);
  const int8_t* a = tflite::micro::GetTensorData<int8_t>(input1);
  const int8_t* b = tflite::micro::GetTensorData<int8_t>(input2);
  int8_t* out = tflite::micro::GetTensorData<int8_t>(output);
  // Block k: a full operand at k * block, a repeated row from its start, a repeated scalar at element k.
  auto at = [&](const int8_t* data, bool full, int k) {
    return full ? data + k * block : repeat == Repeat::kRow ? data : data + k;
  };
  const int step_a = full1 || repeat == Repeat::kRow ? 1 : 0;
  const int step_b = full2 || repeat == Repeat::kRow ? 1 : 0;
  for (int k = 0; k < n / block; ++k) {
    Combine<kSubtract>(block, table1 + 128, at(a, full1, k), step_a, table2 + 128, at(b, full2, k), step_b, p,
                       out + k * block);
  }
  return true;
}

void* InitAdd(TfLiteContext* context, const char*, size_t) {  // TFLM's OpDataAdd, so TFLM's Prepare applies
  return context->AllocatePersistentBuffer(context, sizeof(tflite::OpDataAdd));
}

void* InitSub(TfLiteContext* context, const char*, size_t) {  // TFLM's OpDataSub, as TFLM's SubInit
  return context->AllocatePersistentBuffer(context, sizeof(tflite::OpDataSub));
}

TfLiteStatus EvalAdd(TfLiteContext* context, TfLiteNode* node) {
  const TfLiteEvalTensor* input1 = tflite::micro::GetEvalInput(context, node, 0);
  const TfLiteEvalTensor* input2 = tflite::micro::GetEvalInput(context, node, 1);
  TfLiteEvalTensor* output = tflite::micro::GetEvalOutput(context, node, 0);
  tflite::ArithmeticParams p = ParamsOf(*static_cast<const tflite::OpDataAdd*>(node->user_data));
#if defined(CMSIS_NN)
  // TFLM's CMSIS-NN ADD keeps its parameters private, so this build runs what that kernel runs itself:
  // CMSIS-NN's vector loop for same shapes, TFLM's reference broadcast loop otherwise.
  if (output->type != kTfLiteInt8) {
    MicroPrintf("ADD of %s: this build's ADD kernel (embbert's) runs int8 only; build with EMBBERT_TFLM_KERNELS",
                TfLiteTypeGetName(output->type));
    return kTfLiteError;
  }
  const tflite::RuntimeShape shape1 = tflite::micro::GetTensorShape(input1);
  const tflite::RuntimeShape shape2 = tflite::micro::GetTensorShape(input2);
  if (!tflite::reference_ops::ProcessBroadcastShapes(shape1, shape2, &p)) {
    arm_elementwise_add_s8(tflite::micro::GetTensorData<int8_t>(input1), tflite::micro::GetTensorData<int8_t>(input2),
                           p.input1_offset, p.input1_multiplier, p.input1_shift, p.input2_offset,
                           p.input2_multiplier, p.input2_shift, p.left_shift,
                           tflite::micro::GetTensorData<int8_t>(output), p.output_offset, p.output_multiplier,
                           p.output_shift, p.quantized_activation_min, p.quantized_activation_max,
                           tflite::NumElements(output->dims));
    return kTfLiteOk;
  }
  if (EvalWithTables<false>(input1, input2, output, p)) return kTfLiteOk;
  tflite::reference_integer_ops::BroadcastAdd4DSlow(p, shape1, tflite::micro::GetTensorData<int8_t>(input1), shape2,
                                                    tflite::micro::GetTensorData<int8_t>(input2),
                                                    tflite::micro::GetTensorShape(output),
                                                    tflite::micro::GetTensorData<int8_t>(output));
  return kTfLiteOk;
#else
  if (EvalWithTables<false>(input1, input2, output, p)) return kTfLiteOk;
  return tflite::Register_ADD().invoke(context, node);
#endif
}

TfLiteStatus EvalSub(TfLiteContext* context, TfLiteNode* node) {
  const TfLiteEvalTensor* input1 = tflite::micro::GetEvalInput(context, node, 0);
  const TfLiteEvalTensor* input2 = tflite::micro::GetEvalInput(context, node, 1);
  TfLiteEvalTensor* output = tflite::micro::GetEvalOutput(context, node, 0);
  if (EvalWithTables<true>(input1, input2, output,
                           ParamsOf(*static_cast<const tflite::OpDataSub*>(node->user_data)))) {
    return kTfLiteOk;
  }
  return tflite::Register_SUB().invoke(context, node);
}

}  // namespace

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_ADD() {
  return tflite::micro::RegisterOp(InitAdd, tflite::AddPrepare, EvalAdd);
}

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_SUB() {
  return tflite::micro::RegisterOp(InitSub, tflite::SubPrepare, EvalSub);
}

}  // namespace embbert
