// BATCH_MATMUL for int8 tensors, as a kernel of our own.
//
// TFLM has this op, but the TFLM Arduino port (Arduino_TensorFlowLite 2.4.0-ALPHA) does not, and its
// resolver cannot add it. This kernel gives exactly TFLM's reference results (the same integer sums and
// the same requantization), reads transposed operands in place instead of copying them into the arena,
// and builds with either TFLM (C++14 and up). op_resolver.h registers it.
#ifndef EMBBERT_BATCH_MATMUL_H_
#define EMBBERT_BATCH_MATMUL_H_

#include "tensorflow/lite/core/api/flatbuffer_conversions.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"

namespace embbert {

// The registration: Init, Prepare and Invoke (TFLM's type of the TFLM version it is built with).
decltype(tflite::micro::RegisterOp(nullptr, nullptr, nullptr)) Register_BATCH_MATMUL();

// Reads adj_x / adj_y from the operator (the port's flatbuffer parser has no BATCH_MATMUL case).
TfLiteStatus ParseBatchMatMul(const tflite::Operator* op, tflite::ErrorReporter* error_reporter,
                              tflite::BuiltinDataAllocator* allocator, void** builtin_data);

}  // namespace embbert

#endif  // EMBBERT_BATCH_MATMUL_H_
