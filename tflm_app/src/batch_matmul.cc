#include "batch_matmul.h"

#include "tensorflow/lite/kernels/internal/common.h"
#include "tensorflow/lite/kernels/internal/quantization_util.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace embbert {
namespace {

constexpr int kMaxRank = 5;  // as TFLM's kernel

struct OpData {
  int32_t multiplier;
  int shift;
  int32_t lhs_zero_point, rhs_zero_point, output_zero_point;
  // Shapes extended to kMaxRank, and the output's batch strides into each operand (0 where broadcast).
  int rows, cols, depth;                   // output rows x cols, summed over depth
  int batches;                             // product of the output's leading dimensions
  int out_dims[kMaxRank - 2];
  int lhs_stride[kMaxRank - 2], rhs_stride[kMaxRank - 2];
  bool adj_x, adj_y;
};

void* Init(TfLiteContext* context, const char*, size_t) {
  return tflite::GetMicroContext(context)->AllocatePersistentBuffer(sizeof(OpData));
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  TF_LITE_ENSURE_EQ(context, tflite::NumInputs(node), 2);
  TF_LITE_ENSURE_EQ(context, tflite::NumOutputs(node), 1);
  auto* params = static_cast<const TfLiteBatchMatMulParams*>(node->builtin_data);
  auto* data = static_cast<OpData*>(node->user_data);
  TF_LITE_ENSURE(context, params != nullptr && data != nullptr);
  tflite::MicroContext* micro = tflite::GetMicroContext(context);
  TfLiteTensor* lhs = micro->AllocateTempInputTensor(node, 0);
  TfLiteTensor* rhs = micro->AllocateTempInputTensor(node, 1);
  TfLiteTensor* out = micro->AllocateTempOutputTensor(node, 0);
  TfLiteStatus status = kTfLiteError;
  do {  // once; `break` frees the temporary tensors below
    if (lhs == nullptr || rhs == nullptr || out == nullptr) break;
    if (lhs->type != kTfLiteInt8 || rhs->type != kTfLiteInt8 || out->type != kTfLiteInt8) {
      MicroPrintf("embbert BATCH_MATMUL: int8 only");
      break;
    }
    const int rank = out->dims->size;
    if (rank < 2 || rank > kMaxRank || lhs->dims->size > rank || rhs->dims->size > rank ||
        lhs->dims->size < 2 || rhs->dims->size < 2) {
      break;
    }
    int l[kMaxRank], r[kMaxRank];  // operand shapes with leading 1s up to the output's rank
    for (int i = 0; i < rank; ++i) {
      const int lo = i - (rank - lhs->dims->size), ro = i - (rank - rhs->dims->size);
      l[i] = lo >= 0 ? lhs->dims->data[lo] : 1;
      r[i] = ro >= 0 ? rhs->dims->data[ro] : 1;
    }
    data->adj_x = params->adj_x;
    data->adj_y = params->adj_y;
    data->rows = data->adj_x ? l[rank - 1] : l[rank - 2];
    data->depth = data->adj_x ? l[rank - 2] : l[rank - 1];
    data->cols = data->adj_y ? r[rank - 2] : r[rank - 1];
    const int rhs_depth = data->adj_y ? r[rank - 1] : r[rank - 2];
    if (rhs_depth != data->depth || out->dims->data[rank - 2] != data->rows ||
        out->dims->data[rank - 1] != data->cols) {
      break;
    }
    // Leading dimensions: broadcast as TFLM does (equal, or 1 on one side); strides in elements.
    bool shapes_ok = true;
    int lhs_step = data->rows * data->depth, rhs_step = data->depth * data->cols;
    data->batches = 1;
    for (int i = kMaxRank - 3; i >= 0; --i) {
      const int d = i - (kMaxRank - rank);  // index into this rank's leading dims, or < 0
      const int ld = d >= 0 ? l[d] : 1, rd = d >= 0 ? r[d] : 1, od = d >= 0 ? out->dims->data[d] : 1;
      if ((ld != rd && ld != 1 && rd != 1) || od != (ld > rd ? ld : rd)) shapes_ok = false;
      data->out_dims[i] = od;
      data->lhs_stride[i] = ld == 1 ? 0 : lhs_step;
      data->rhs_stride[i] = rd == 1 ? 0 : rhs_step;
      lhs_step *= ld;
      rhs_step *= rd;
      data->batches *= od;
    }
    if (!shapes_ok) break;
    double real_multiplier = 0.0;
    if (tflite::GetQuantizedConvolutionMultipler(context, lhs, rhs, out, &real_multiplier) != kTfLiteOk) break;
    tflite::QuantizeMultiplier(real_multiplier, &data->multiplier, &data->shift);
    data->lhs_zero_point = lhs->params.zero_point;
    data->rhs_zero_point = rhs->params.zero_point;
    data->output_zero_point = out->params.zero_point;
    status = kTfLiteOk;
  } while (false);
  if (lhs != nullptr) micro->DeallocateTempTfLiteTensor(lhs);
  if (rhs != nullptr) micro->DeallocateTempTfLiteTensor(rhs);
  if (out != nullptr) micro->DeallocateTempTfLiteTensor(out);
  return status;
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const OpData& p = *static_cast<const OpData*>(node->user_data);
  const int8_t* lhs = tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalInput(context, node, 0));
  const int8_t* rhs = tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalInput(context, node, 1));
  int8_t* out = tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalOutput(context, node, 0));
  // Element (row, k) of the lhs matrix and (k, col) of the rhs one, transposed or not.
  const int lhs_row = p.adj_x ? 1 : p.depth, lhs_k = p.adj_x ? p.rows : 1;
  const int rhs_k = p.adj_y ? 1 : p.cols, rhs_col = p.adj_y ? p.depth : 1;
  for (int b = 0; b < p.batches; ++b) {
    int rest = b, lhs_offset = 0, rhs_offset = 0;
    for (int i = kMaxRank - 3; i >= 0; --i) {
      const int index = rest % p.out_dims[i];
      rest /= p.out_dims[i];
      lhs_offset += index * p.lhs_stride[i];
      rhs_offset += index * p.rhs_stride[i];
    }
    const int8_t* a = lhs + lhs_offset;
    const int8_t* m = rhs + rhs_offset;
    for (int row = 0; row < p.rows; ++row) {
      for (int col = 0; col < p.cols; ++col) {
        // Integer sums are exact in any order: the same total as TFLM's reference kernel.
        int32_t total = 0;
        for (int k = 0; k < p.depth; ++k) {
          total += (a[row * lhs_row + k * lhs_k] - p.lhs_zero_point) * (m[k * rhs_k + col * rhs_col] - p.rhs_zero_point);
        }
        int32_t v = tflite::MultiplyByQuantizedMultiplier(total, p.multiplier, p.shift) + p.output_zero_point;
        v = v < -128 ? -128 : v > 127 ? 127 : v;
        *out++ = static_cast<int8_t>(v);
      }
    }
  }
  return kTfLiteOk;
}

}  // namespace

decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_BATCH_MATMUL() {
  return tflite::micro::RegisterOp(Init, Prepare, Eval);
}

TfLiteStatus ParseBatchMatMul(const tflite::Operator* op, tflite::ErrorReporter*,
                              tflite::BuiltinDataAllocator* allocator, void** builtin_data) {
  auto* params = allocator->AllocatePOD<TfLiteBatchMatMulParams>();
  if (params == nullptr) return kTfLiteError;
  if (const tflite::BatchMatMulOptions* options = op->builtin_options_as_BatchMatMulOptions()) {
    params->adj_x = options->adj_x();
    params->adj_y = options->adj_y();
    params->asymmetric_quantize_inputs = options->asymmetric_quantize_inputs();
  }
  *builtin_data = params;
  return kTfLiteOk;
}

}  // namespace embbert
