#include "classifier.h"

#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

#ifdef EMBBERT_PROFILE
// Called right before and after each Invoke and each op. They do nothing; an emulator plugin counts the
// instructions executed between them (plugins/insn_count.c), as QEMU's Cortex-M boards have no cycle
// counter.
extern "C" __attribute__((noinline)) void embbert_invoke_begin() { __asm__ volatile(""); }
extern "C" __attribute__((noinline)) void embbert_invoke_end() { __asm__ volatile(""); }
extern "C" __attribute__((noinline)) void embbert_op_begin() { __asm__ volatile(""); }
extern "C" __attribute__((noinline)) void embbert_op_end() { __asm__ volatile(""); }
#define EMBBERT_MARK(name) name()
#define EMBBERT_PROFILER (&markers_)
#else
#define EMBBERT_MARK(name)
#define EMBBERT_PROFILER nullptr
#endif

namespace embbert {

const char* StatusString(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kTruncated:
      return "text longer than the model's sequence length; classified its start (and end)";
    case Status::kNotInitialised:
      return "classifier not initialised";
    case Status::kSchemaMismatch:
      return "model schema version does not match this TFLM build; re-export the model";
    case Status::kBadModel:
      return "model input/output is not what this code was generated for; re-run pipelines.export";
    case Status::kOpMissing:
      return "model uses an op the resolver lacks; re-run pipelines.export";
    case Status::kArenaTooSmall:
      return "tensor arena too small for the model; use kTensorArenaSize bytes or more";
    case Status::kInvalidUtf8:
      return "text is not valid UTF-8";
    case Status::kEmptyText:
      return "text is empty; nothing to classify";
    case Status::kInvokeFailed:
      return "TFLM invoke failed";
  }
  return "unknown status";
}

#ifdef EMBBERT_PROFILE
uint32_t OpMarkers::BeginEvent(const char*) {
  embbert_op_begin();
  return 0;
}

void OpMarkers::EndEvent(uint32_t) { embbert_op_end(); }
#endif

Classifier::Classifier() : ops_registered_(RegisterOps(resolver_) == kTfLiteOk) {}

Classifier::~Classifier() { Reset(); }

void Classifier::Reset() {
  // The interpreter lives in storage_ (placement new: no heap), so it is destroyed by hand.
  if (interpreter_ != nullptr) interpreter_->~MicroInterpreter();
  interpreter_ = nullptr;
}

Status Classifier::Init(const unsigned char* model_data, uint8_t* arena, size_t arena_size,
                        const TokenizerData& tokenizer) {
  Reset();
  if (arena == nullptr || arena_size < kMinArenaBytes) return Status::kArenaTooSmall;
  const tflite::Model* model = tflite::GetModel(model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return Status::kSchemaMismatch;
  if (model->subgraphs() == nullptr || model->subgraphs()->size() != 1) return Status::kBadModel;
  if (!ops_registered_) return Status::kOpMissing;
  // Check every op against the resolver first, so that AllocateTensors() failing means the arena.
  const auto* codes = model->operator_codes();
  for (const tflite::Operator* op : *model->subgraphs()->Get(0)->operators()) {
    if (resolver_.FindOp(tflite::GetBuiltinCode(codes->Get(op->opcode_index()))) == nullptr) {
      return Status::kOpMissing;
    }
  }
  interpreter_ = new (storage_) tflite::MicroInterpreter(model, resolver_, arena, arena_size, nullptr,
                                                         EMBBERT_PROFILER);
  Status status = Status::kOk;
  if (interpreter_->AllocateTensors() != kTfLiteOk) {
    status = Status::kArenaTooSmall;
  } else {
    const TfLiteTensor* input = interpreter_->input(0);
    const TfLiteTensor* output = interpreter_->output(0);
    if (input == nullptr || output == nullptr || input->type != kTfLiteInt32 || output->type != kTfLiteInt8 ||
        input->dims->size != 2 || input->dims->data[1] != kSequenceLength || output->dims->size != 2 ||
        output->dims->data[1] != kNumClasses || output->params.scale <= 0.0f) {
      status = Status::kBadModel;
    } else {
      // Read from the model, not generated beside it, so the scores always match the flatbuffer in use.
      output_scale_ = output->params.scale;
      output_zero_point_ = output->params.zero_point;
    }
  }
  if (status != Status::kOk) {
    Reset();
    return status;
  }
  tokenizer_ = &tokenizer;
  return Status::kOk;
}

Status Classifier::ClassifyIds(const int32_t* ids, Result* result) {
  if (interpreter_ == nullptr) return Status::kNotInitialised;
  int32_t* input = interpreter_->input(0)->data.i32;
  for (int i = 0; i < kSequenceLength; ++i) input[i] = ids[i];
  EMBBERT_MARK(embbert_invoke_begin);
  const TfLiteStatus invoked = interpreter_->Invoke();
  EMBBERT_MARK(embbert_invoke_end);
  if (invoked != kTfLiteOk) return Status::kInvokeFailed;
  const int8_t* out = interpreter_->output(0)->data.int8;
  result->label = 0;
  for (int c = 0; c < kNumClasses; ++c) {
    result->raw[c] = out[c];
    result->scores[c] = (out[c] - output_zero_point_) * output_scale_;
    if (out[c] > out[result->label]) result->label = c;
  }
  return Status::kOk;
}

Status Classifier::Classify(const char* text, size_t length, Result* result) {
  if (interpreter_ == nullptr) return Status::kNotInitialised;
  int32_t* input = interpreter_->input(0)->data.i32;
  const TokenizeStatus t =
      Tokenize(*tokenizer_, text, length, input, kSequenceLength, kHeadTokens, &result->num_tokens);
  if (t == TokenizeStatus::kInvalidUtf8) return Status::kInvalidUtf8;
  if (t == TokenizeStatus::kBadArgument) return Status::kBadModel;
  if (result->num_tokens <= 2) return Status::kEmptyText;  // only [CLS] and [SEP]
  const Status s = ClassifyIds(input, result);
  if (s != Status::kOk) return s;
  return t == TokenizeStatus::kTruncated ? Status::kTruncated : Status::kOk;
}

size_t Classifier::ArenaUsedBytes() const { return interpreter_ == nullptr ? 0 : interpreter_->arena_used_bytes(); }

}  // namespace embbert
