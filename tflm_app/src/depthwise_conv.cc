#include "depthwise_conv.h"

#include <string.h>

#include <algorithm>

#include "rescale.h"
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/conv.h"
#include "tensorflow/lite/micro/kernels/micro_ops.h"
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

namespace embbert {
namespace {

constexpr int kMaxChannels = 512;  // the per-channel sums live on the stack: 4 bytes a channel

// What one Eval needs (TFLM's OpDataConv holds the rescaling; the tensors the rest).
struct Conv {
  const int8_t* input;
  const int8_t* filter;
  int8_t* output;
  int in_width, channels, filter_height, filter_width, out_width;
  const int32_t* base;  // bias + input offset x the sum of the channel's taps
  const tflite::OpDataConv* data;

  int8_t Finish(int32_t acc, int c) const {
    const int32_t v = Rescale(acc, data->per_channel_output_multiplier[c], data->per_channel_output_shift[c]) +
                      data->output_zero_point;
    return static_cast<int8_t>(std::min(data->output_activation_max, std::max(data->output_activation_min, v)));
  }

  // Output (y, x), channels [from, to), one multiply-accumulate at a time.
  void Plain(int y, int x, int from, int to) const {
    for (int c = from; c < to; ++c) {
      int32_t acc = base[c];
      for (int ky = 0; ky < filter_height; ++ky) {
        const int8_t* in = input + ((y + ky) * in_width + x) * channels + c;
        const int8_t* w = filter + ky * filter_width * channels + c;
        for (int kx = 0; kx < filter_width; ++kx) acc += in[kx * channels] * w[kx * channels];
      }
      output[(y * out_width + x) * channels + c] = Finish(acc, c);
    }
  }

#if defined(__ARM_FEATURE_DSP)
  static uint32_t Load4(const int8_t* p) {
    uint32_t v;
    memcpy(&v, p, 4);  // one (unaligned-capable) 32-bit load on the Cortex-M
    return v;
  }
  static int32_t Lanes02(uint32_t v) { return __sxtb16(v); }  // int8 lanes 0, 2 as 16 bits
  static int32_t Lanes13(uint32_t v) {                          // lanes 1, 3: the rotation folded in
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
  }

  // Outputs (y, x) and (y, x + 1), channels [c, c + 4): each tap's weights serve both outputs, and each
  // input word serves output x + 1 at tap k and output x at tap k + 1.
  void Dsp(int y, int x, int c) const {
    int32_t a0 = base[c], a1 = base[c + 1], a2 = base[c + 2], a3 = base[c + 3];
    int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
    for (int ky = 0; ky < filter_height; ++ky) {
      const int8_t* in = input + ((y + ky) * in_width + x) * channels + c;
      const int8_t* w = filter + ky * filter_width * channels + c;
      uint32_t v = Load4(in);
      int32_t i02 = Lanes02(v), i13 = Lanes13(v);
      for (int kx = 0; kx < filter_width; ++kx) {
        const uint32_t wv = Load4(w + kx * channels);
        const int32_t w02 = Lanes02(wv), w13 = Lanes13(wv);
        a0 = __smlabb(i02, w02, a0);
        a2 = __smlatt(i02, w02, a2);
        a1 = __smlabb(i13, w13, a1);
        a3 = __smlatt(i13, w13, a3);
        v = Load4(in + (kx + 1) * channels);  // the next position: x + 1 here, x at the next tap
        i02 = Lanes02(v);
        i13 = Lanes13(v);
        b0 = __smlabb(i02, w02, b0);
        b2 = __smlatt(i02, w02, b2);
        b1 = __smlabb(i13, w13, b1);
        b3 = __smlatt(i13, w13, b3);
      }
    }
    int8_t* out = output + (y * out_width + x) * channels + c;
    out[0] = Finish(a0, c);
    out[1] = Finish(a1, c + 1);
    out[2] = Finish(a2, c + 2);
    out[3] = Finish(a3, c + 3);
    out += channels;
    out[0] = Finish(b0, c);
    out[1] = Finish(b1, c + 1);
    out[2] = Finish(b2, c + 2);
    out[3] = Finish(b3, c + 3);
  }
#endif

  // Output row y: all positions, all channels.
  void Row(int y) const {
    int x = 0;
#if defined(__ARM_FEATURE_DSP)
    const int vector_channels = channels / 4 * 4;
    for (; x + 1 < out_width; x += 2) {
      for (int c = 0; c < vector_channels; c += 4) Dsp(y, x, c);
      Plain(y, x, vector_channels, channels);
      Plain(y, x + 1, vector_channels, channels);
    }
#endif
    for (; x < out_width; ++x) Plain(y, x, 0, channels);
  }
};

void* Init(TfLiteContext* context, const char* buffer, size_t length) {  // TFLM's, so its OpData and arena
  return tflite::Register_DEPTHWISE_CONV_2D().init(context, buffer, length);
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  return tflite::Register_DEPTHWISE_CONV_2D().prepare(context, node);
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const auto& params = *static_cast<const TfLiteDepthwiseConvParams*>(node->builtin_data);
  // TFLM's OpData is an OpDataConv, or (CMSIS-NN's) starts with one.
  const auto* data = static_cast<const tflite::OpDataConv*>(node->user_data);
  const TfLiteEvalTensor* input = tflite::micro::GetEvalInput(context, node, 0);
  const TfLiteEvalTensor* filter = tflite::micro::GetEvalInput(context, node, 1);
  const TfLiteEvalTensor* bias = tflite::micro::GetEvalInput(context, node, 2);  // nullptr when there is none
  TfLiteEvalTensor* output = tflite::micro::GetEvalOutput(context, node, 0);
  const TfLiteIntArray* in = input->dims;
  const TfLiteIntArray* k = filter->dims;
  const TfLiteIntArray* out = output->dims;
#if defined(USE_TFLM_COMPRESSION)
  const bool compressed = true;  // compressed weights: TFLM's kernel decompresses them
#else
  const bool compressed = false;
#endif
  if (compressed || input->type != kTfLiteInt8 || filter->type != kTfLiteInt8 || output->type != kTfLiteInt8 ||
      (bias != nullptr && bias->type != kTfLiteInt32) || in->size != 4 || k->size != 4 || out->size != 4 ||
      in->data[0] != 1 || params.depth_multiplier != 1 || params.stride_width != 1 || params.stride_height != 1 ||
      params.dilation_width_factor != 1 || params.dilation_height_factor != 1 || data->padding.width != 0 ||
      data->padding.height != 0 || in->data[3] != out->data[3] || k->data[3] != out->data[3] ||
      out->data[3] > kMaxChannels || out->data[1] != in->data[1] - k->data[1] + 1 ||
      out->data[2] != in->data[2] - k->data[2] + 1) {
    return tflite::Register_DEPTHWISE_CONV_2D().invoke(context, node);
  }
  const int channels = out->data[3], taps = k->data[1] * k->data[2];
  const int8_t* weights = tflite::micro::GetTensorData<int8_t>(filter);
  const int32_t* bias_data = bias != nullptr ? tflite::micro::GetTensorData<int32_t>(bias) : nullptr;
  int32_t base[kMaxChannels];
  for (int c = 0; c < channels; ++c) {
    int32_t sum = 0;
    for (int t = 0; t < taps; ++t) sum += weights[t * channels + c];
    base[c] = (bias_data != nullptr ? bias_data[c] : 0) - data->input_zero_point * sum;
  }
  const Conv conv = {tflite::micro::GetTensorData<int8_t>(input), weights, tflite::micro::GetTensorData<int8_t>(output),
                     in->data[2], channels, k->data[1], k->data[2], out->data[2], base, data};
  for (int y = 0; y < out->data[1]; ++y) conv.Row(y);
  return kTfLiteOk;
}

}  // namespace

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_DEPTHWISE_CONV_2D() {
  return tflite::micro::RegisterOp(Init, Prepare, Eval);
}

}  // namespace embbert
