// embbert::MixedOpResolver: TFLM's own kernels for the model's ops, plus kernels of our own (add_sub.h,
// batch_matmul.h, depthwise_conv.h, fully_connected.h, logistic_table.h, mean_last_axis.h, mul_broadcast.h).
//
// TFLM's MicroMutableOpResolver cannot take a builtin kernel from outside TFLM (its AddBuiltin is
// private), so this resolver answers for our kernels first and asks TFLM's for every other op. It
// builds against current TFLM trees and the older TFLM of the Arduino port alike.
#ifndef EMBBERT_OP_RESOLVER_H_
#define EMBBERT_OP_RESOLVER_H_

#include <type_traits>
#include <utility>

#include "add_sub.h"
#include "batch_matmul.h"
#include "depthwise_conv.h"
#include "fully_connected.h"
#include "logistic_table.h"
#include "mean_last_axis.h"
#include "mul_broadcast.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"

namespace embbert {

template <unsigned int kTflmOps, unsigned int kOwnOps = 1>
class MixedOpResolver : public tflite::MicroOpResolver {
 public:
  // TFLM's registration type: TfLiteRegistration in older trees, TFLMRegistration in newer ones.
  using Registration =
      typename std::remove_cv<typename std::remove_pointer<decltype(std::declval<tflite::MicroOpResolver>().FindOp(
          tflite::BuiltinOperator_ADD))>::type>::type;
  using Parser = tflite::TfLiteBridgeBuiltinParseFunction;

  // Where the model's ops that TFLM runs are added (AddFullyConnected(), ...).
  tflite::MicroMutableOpResolver<kTflmOps>& tflm() { return tflm_; }

  // Runs `op` with a kernel of our own instead of TFLM's.
  TfLiteStatus AddOwn(tflite::BuiltinOperator op, const Registration& registration, Parser parser) {
    if (own_count_ >= kOwnOps || FindOwn(op) >= 0) return kTfLiteError;
    own_[own_count_] = registration;
    own_[own_count_].builtin_code = op;
    own_parsers_[own_count_++] = parser;
    return kTfLiteOk;
  }

  const Registration* FindOp(tflite::BuiltinOperator op) const override {
    const int i = FindOwn(op);
    return i >= 0 ? &own_[i] : tflm_.FindOp(op);
  }
  const Registration* FindOp(const char* op) const override { return tflm_.FindOp(op); }
  Parser GetOpDataParser(tflite::BuiltinOperator op) const override {
    const int i = FindOwn(op);
    return i >= 0 ? own_parsers_[i] : tflm_.GetOpDataParser(op);
  }

 private:
  int FindOwn(tflite::BuiltinOperator op) const {
    for (unsigned int i = 0; i < own_count_; ++i) {
      if (own_[i].builtin_code == op) return static_cast<int>(i);
    }
    return -1;
  }

  TF_LITE_REMOVE_VIRTUAL_DELETE  // as TFLM's resolvers: no operator delete linked in

  tflite::MicroMutableOpResolver<kTflmOps> tflm_;
  Registration own_[kOwnOps] = {};
  Parser own_parsers_[kOwnOps] = {};
  unsigned int own_count_ = 0;
};

}  // namespace embbert

#endif  // EMBBERT_OP_RESOLVER_H_
