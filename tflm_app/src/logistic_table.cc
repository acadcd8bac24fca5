#include "logistic_table.h"

#include "tensorflow/lite/kernels/internal/reference/integer_ops/logistic.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/logistic.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#include "tensorflow/lite/micro/micro_context.h"

namespace embbert {
namespace {

constexpr int kTableSize = 256;

void* Init(TfLiteContext* context, const char*, size_t) {  // TFLM's OpData, so TFLM's Prepare and Eval apply
  return tflite::GetMicroContext(context)->AllocatePersistentBuffer(sizeof(tflite::OpDataLogistic));
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const TfLiteEvalTensor* input = tflite::micro::GetEvalInput(context, node, 0);
  TfLiteEvalTensor* output = tflite::micro::GetEvalOutput(context, node, 0);
  const int n = tflite::NumElements(input->dims);
  if (input->type != kTfLiteInt8 || output->type != kTfLiteInt8 || n <= kTableSize) {
    return tflite::Register_LOGISTIC().invoke(context, node);
  }
  const auto& p = *static_cast<const tflite::OpDataLogistic*>(node->user_data);
  int8_t every[kTableSize], table[kTableSize];  // table[v + 128] = LOGISTIC(v)
  for (int v = 0; v < kTableSize; ++v) every[v] = static_cast<int8_t>(v - 128);
  tflite::reference_integer_ops::Logistic(p.input_zero_point, p.input_range_radius, p.input_multiplier,
                                          p.input_left_shift, kTableSize, every, table);
  const int8_t* in = tflite::micro::GetTensorData<int8_t>(input);
  int8_t* out = tflite::micro::GetTensorData<int8_t>(output);
  const int8_t* lookup = table + 128;
  for (int i = 0; i < n; ++i) out[i] = lookup[in[i]];
  return kTfLiteOk;
}

}  // namespace

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_LOGISTIC() {
  return tflite::micro::RegisterOp(Init, tflite::LogisticPrepare, Eval);
}

}  // namespace embbert
