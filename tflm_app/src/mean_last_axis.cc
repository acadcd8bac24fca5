#include "mean_last_axis.h"

// The Arduino port's TFLM has another MEAN arithmetic; there TFLM's kernel runs (tflm_kernels.py).
#if !defined(ARDUINO) && !defined(EMBBERT_ARDUINO_PORT)

#include <algorithm>
#include <new>

#include "tensorflow/lite/kernels/internal/common.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/reduce.h"

namespace embbert {
namespace {

void* Init(TfLiteContext* context, const char*, size_t) {  // TFLM's OpDataReduce, as TFLM's InitReduce
  return new (context->AllocatePersistentBuffer(context, sizeof(tflite::OpDataReduce))) tflite::OpDataReduce();
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  return tflite::PrepareMeanOrSumHelper(context, node, static_cast<tflite::OpDataReduce*>(node->user_data));
}

// Whether the op reduces exactly the last axis of `input`.
bool OverLastAxis(const TfLiteEvalTensor* input, const TfLiteEvalTensor* axis) {
  if (axis->type != kTfLiteInt32 || tflite::NumElements(axis->dims) != 1) return false;
  const int rank = input->dims->size, a = tflite::micro::GetTensorData<int32_t>(axis)[0];
  return rank > 0 && (a == rank - 1 || a == -1);
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  auto* data = static_cast<tflite::OpDataReduce*>(node->user_data);
  const TfLiteEvalTensor* input = tflite::micro::GetEvalInput(context, node, 0);
  const TfLiteEvalTensor* axis = tflite::micro::GetEvalInput(context, node, 1);
  TfLiteEvalTensor* output = tflite::micro::GetEvalOutput(context, node, 0);
  const int row = input->dims->size > 0 ? input->dims->data[input->dims->size - 1] : 0;
  const int rows = tflite::NumElements(output->dims);
  if (input->type != kTfLiteInt8 || output->type != kTfLiteInt8 || !OverLastAxis(input, axis) || row <= 0 ||
      rows * row != tflite::NumElements(input->dims)) {
    return tflite::EvalMeanHelper(context, node, data);
  }
  // TFLM's QuantizedMeanOrSum folds 1 / row into the output multiplier, so.
  int shift = 63 - tflite::CountLeadingZeros(static_cast<uint64_t>(row));
  shift = std::min(shift, 32);
  shift = std::min(shift, 31 + data->shift);
  const int32_t multiplier = static_cast<int32_t>((static_cast<int64_t>(data->multiplier) << shift) / row);
  const int out_shift = data->shift - shift;
  const int32_t zero_sum = static_cast<int32_t>(static_cast<int64_t>(data->input_zp) * row);
  const int8_t* in = tflite::micro::GetTensorData<int8_t>(input);
  int8_t* out = tflite::micro::GetTensorData<int8_t>(output);
  for (int r = 0; r < rows; ++r, in += row) {
    int32_t sum = 0;
    for (int i = 0; i < row; ++i) sum += in[i];
    const int32_t v = tflite::MultiplyByQuantizedMultiplier(sum - zero_sum, multiplier, out_shift) + data->output_zp;
    out[r] = static_cast<int8_t>(std::min<int32_t>(127, std::max<int32_t>(-128, v)));
  }
  return kTfLiteOk;
}

}  // namespace

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_MEAN() {
  return tflite::micro::RegisterOp(Init, Prepare, Eval);
}

}  // namespace embbert

#endif  // !defined(ARDUINO) && !defined(EMBBERT_ARDUINO_PORT)
