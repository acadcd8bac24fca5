#include "fully_connected.h"

#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/fully_connected.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#if defined(CMSIS_NN)
#include "Include/arm_nnfunctions.h"
#endif

// Ours differs from TFLM's on CMSIS-NN builds for cores without a vector extension, on a current TFLM
// (the Arduino port's older one has other fields; tflm_kernels.py registers ours only off the port).
#if defined(CMSIS_NN) && !defined(ARM_MATH_MVEI) && !defined(USE_TFLM_COMPRESSION) && !defined(ARDUINO) && \
    !defined(EMBBERT_ARDUINO_PORT)
#define EMBBERT_FC_AS_CONV_1X1
#endif

namespace embbert {
namespace {

void* Init(TfLiteContext* context, const char* buffer, size_t length) {  // TFLM's, so its OpData and arena
  return tflite::Register_FULLY_CONNECTED().init(context, buffer, length);
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  return tflite::Register_FULLY_CONNECTED().prepare(context, node);
}

#if defined(EMBBERT_FC_AS_CONV_1X1)
constexpr int kMaxOutputDepth = 256;  // the rescaling per channel lives on the stack: 8 bytes a channel

// The case TFLM's CMSIS-NN kernel runs row by row: int8, a 2-D output of several rows, per-tensor
// weights, a depth that is a multiple of 4. Runs it as TFLM's kernel runs a 3-D output; false otherwise.
bool AsConv1x1(TfLiteNode* node, const TfLiteEvalTensor* input, const TfLiteEvalTensor* filter,
               const TfLiteEvalTensor* bias, TfLiteEvalTensor* output) {
  // TFLM's CMSIS-NN OpData starts with the reference kernel's OpDataFullyConnected.
  const auto& data = *static_cast<const tflite::OpDataFullyConnected*>(node->user_data);
  if (input->type != kTfLiteInt8 || filter->type != kTfLiteInt8 || output->type != kTfLiteInt8 ||
      output->dims->size != 2 || filter->dims->size != 2 || data.is_per_channel || data.filter_zero_point != 0) {
    return false;
  }
  const int output_depth = filter->dims->data[0], accum_depth = filter->dims->data[1];
  const int batches = output->dims->data[0];
  if (batches < 2 || accum_depth % 4 != 0 || output_depth > kMaxOutputDepth ||
      output->dims->data[1] != output_depth || tflite::NumElements(input->dims) != batches * accum_depth) {
    return false;
  }
  int32_t multipliers[kMaxOutputDepth], shifts[kMaxOutputDepth];
  for (int i = 0; i < output_depth; ++i) {
    multipliers[i] = data.output_multiplier;
    shifts[i] = data.output_shift;
  }
  cmsis_nn_context ctx = {nullptr, 0};  // GCC builds of the 1x1 kernel need no buffer on these cores
  cmsis_nn_conv_params conv = {};
  conv.input_offset = -data.input_zero_point;
  conv.output_offset = data.output_zero_point;
  conv.stride = {1, 1};
  conv.padding = {0, 0};
  conv.dilation = {1, 1};
  conv.activation = {data.output_activation_min, data.output_activation_max};
  cmsis_nn_per_channel_quant_params quant = {multipliers, shifts};
  const cmsis_nn_dims input_dims = {batches, 1, 1, accum_depth}, filter_dims = {accum_depth, 1, 1, output_depth},
                      bias_dims = {1, 1, 1, output_depth}, output_dims = {batches, 1, 1, output_depth};
  return arm_convolve_1x1_s8_fast(&ctx, &conv, &quant, &input_dims, tflite::micro::GetTensorData<int8_t>(input),
                                  &filter_dims, tflite::micro::GetTensorData<int8_t>(filter), &bias_dims,
                                  tflite::micro::GetOptionalTensorData<int32_t>(bias), &output_dims,
                                  tflite::micro::GetTensorData<int8_t>(output)) == ARM_CMSIS_NN_SUCCESS;
}
#endif

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
#if defined(EMBBERT_FC_AS_CONV_1X1)
  if (AsConv1x1(node, tflite::micro::GetEvalInput(context, node, 0), tflite::micro::GetEvalInput(context, node, 1),
                tflite::micro::GetEvalInput(context, node, 2),  // the bias, nullptr when there is none
                tflite::micro::GetEvalOutput(context, node, 0))) {
    return kTfLiteOk;
  }
#endif
  return tflite::Register_FULLY_CONNECTED().invoke(context, node);
}

}  // namespace

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_FULLY_CONNECTED() {
  return tflite::micro::RegisterOp(Init, Prepare, Eval);
}

}  // namespace embbert
