// embbert::Classifier: text in, label and scores out, on TensorFlow Lite Micro.
//
//   static uint8_t arena[embbert::kTensorArenaSize] alignas(16);
//   embbert::Classifier classifier;
//   if (classifier.Init(g_embbert_model, arena, sizeof(arena)) != embbert::Status::kOk) { ... }
//   embbert::Result result;
//   embbert::Status status = classifier.Classify(text, strlen(text), &result);
//
// Every TFLM status is checked and turned into a Status; nothing is allocated on the heap.
#ifndef EMBBERT_CLASSIFIER_H_
#define EMBBERT_CLASSIFIER_H_

#include <stddef.h>
#include <stdint.h>

#include <new>

#include "model_settings.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tokenizer.h"
#include "tokenizer_data.h"

namespace embbert {

enum class Status {
  kOk = 0,
  kTruncated,        // classified, but the text had more tokens than kSequenceLength (cut as kHeadTokens says)
  kNotInitialised,   // Classify() before a successful Init()
  kSchemaMismatch,   // the flatbuffer's schema version is not the one TFLM was built for
  kBadModel,         // not the model this code was generated for (input/output shape or type)
  kOpMissing,        // the model uses an op the resolver lacks
  kArenaTooSmall,    // TFLM could not plan the model's tensors in the arena
  kInvalidUtf8,      // the text is not UTF-8
  kEmptyText,        // the text has no tokens (empty, or only spaces)
  kInvokeFailed,     // a kernel failed at run time
};

const char* StatusString(Status status);

struct Result {
  int label = -1;
  float scores[kNumClasses] = {};  // dequantized logits
  int8_t raw[kNumClasses] = {};    // the model's int8 outputs
  int num_tokens = 0;              // ids used, [CLS] and [SEP] included
};

#ifdef EMBBERT_PROFILE
// Calls two marker functions around every op the interpreter runs, so that an instruction-counting
// QEMU plugin (plugins/insn_count.c) can attribute the count of an Invoke to each op. Costs a few
// instructions per op; built only with -DEMBBERT_PROFILE=ON (benchmarks/device.py).
class OpMarkers : public tflite::MicroProfilerInterface {
 public:
  uint32_t BeginEvent(const char* tag) override;
  void EndEvent(uint32_t event_handle) override;
};
#endif

class Classifier {
 public:
  Classifier();
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Below this, TFLM cannot even place its own allocator in the arena (and would crash trying).
  static constexpr size_t kMinArenaBytes = 1024;

  // model: the flatbuffer (16-byte aligned); arena: 16-byte aligned, kTensorArenaSize bytes or more.
  Status Init(const unsigned char* model, uint8_t* arena, size_t arena_size,
              const TokenizerData& tokenizer = kTokenizerData);
  Status Classify(const char* text, size_t length, Result* result);
  // Classify token ids directly (kSequenceLength of them).
  Status ClassifyIds(const int32_t* ids, Result* result);
  // Bytes of the arena TFLM used, after Init().
  size_t ArenaUsedBytes() const;

 private:
  void Reset();  // destroys the interpreter, if any: Classify() then says kNotInitialised

  OpResolver resolver_;
#ifdef EMBBERT_PROFILE
  OpMarkers markers_;
#endif
  bool ops_registered_;
  alignas(tflite::MicroInterpreter) unsigned char storage_[sizeof(tflite::MicroInterpreter)];
  tflite::MicroInterpreter* interpreter_ = nullptr;
  const TokenizerData* tokenizer_ = nullptr;
  // The output's quantization, read from the model in Init(): logit = (raw - zero point) * scale.
  float output_scale_ = 0.0f;
  int output_zero_point_ = 0;
};

}  // namespace embbert

#endif  // EMBBERT_CLASSIFIER_H_
