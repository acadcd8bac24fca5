// Text in, label out: reads lines from stdin and prints, for each, the label, the scores and a note when
// the text was truncated or rejected. The same program runs on the x86 host and on Cortex-M under QEMU
// (stdin/stdout through semihosting).
//
//   embbert_app [--arena BYTES] [--raw] [--find-arena]
//     --arena       use a smaller arena than kTensorArenaSize
//     --raw         print the model's raw int8 outputs instead of label and scores
//     --find-arena  print the smallest arena this build runs the model in (bisection, 16-byte steps)
//     --time N      (host) classify each line N times and append the median microseconds per Classify
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef EMBBERT_HOST
#include <algorithm>
#include <chrono>
#include <vector>
#endif

#include "classifier.h"
#include "model_data.h"
#include "model_settings.h"
#if defined(__has_include) && __has_include("tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h")
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#define EMBBERT_DEBUG_LOG_CALLBACK 1
#endif

#ifndef EMBBERT_ARENA_ATTRIBUTE
#define EMBBERT_ARENA_ATTRIBUTE
#endif

namespace {

// Static, not on the stack; on Cortex-M in its own RAM region.
alignas(16) uint8_t g_arena[embbert::kTensorArenaSize] EMBBERT_ARENA_ATTRIBUTE;
char g_line[EMBBERT_MAX_LINE_BYTES];

// Reads one line without its newline; returns its length, or -1 at end of input.
long ReadLine() {
  long n = 0;
  int c;
  while ((c = fgetc(stdin)) != EOF && c != '\n') {
    if (n < static_cast<long>(sizeof(g_line))) g_line[n++] = static_cast<char>(c);
  }
  if (c == EOF && n == 0) return -1;
  if (n > 0 && g_line[n - 1] == '\r') --n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef EMBBERT_DEBUG_LOG_CALLBACK
  // On Cortex-M, TFLM's messages go nowhere until a callback prints them.
  RegisterDebugLogCallback([](const char* s) { fputs(s, stderr); });
#endif
  size_t arena_size = sizeof(g_arena);
  bool raw = false;
  bool find_arena = false;
  int repeats = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--arena") == 0 && i + 1 < argc) {
      arena_size = static_cast<size_t>(strtoul(argv[++i], nullptr, 10));
      if (arena_size > sizeof(g_arena)) arena_size = sizeof(g_arena);
    } else if (strcmp(argv[i], "--raw") == 0) {
      raw = true;
    } else if (strcmp(argv[i], "--find-arena") == 0) {
      find_arena = true;
    } else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
      repeats = atoi(argv[++i]);
    }
  }
  (void)repeats;  // host only
  static embbert::Classifier classifier;
  if (find_arena) {
    size_t lo = 0, hi = sizeof(g_arena);  // Init fails at lo, succeeds at hi
    if (classifier.Init(g_embbert_model, g_arena, hi) != embbert::Status::kOk) {
      printf("error: the model does not run even in kTensorArenaSize bytes\n");
      return 1;
    }
    while (hi - lo > 16) {
      const size_t mid = (lo + hi) / 2 / 16 * 16;
      (classifier.Init(g_embbert_model, g_arena, mid) == embbert::Status::kOk ? hi : lo) = mid;
    }
    printf("%lu\n", static_cast<unsigned long>(hi));
    return 0;
  }
  const embbert::Status init = classifier.Init(g_embbert_model, g_arena, arena_size);
  if (init != embbert::Status::kOk) {
    printf("error: %s (arena %lu bytes)\n", embbert::StatusString(init), static_cast<unsigned long>(arena_size));
    return 1;
  }
  fprintf(stderr, "arena: %lu bytes used of %lu\n", static_cast<unsigned long>(classifier.ArenaUsedBytes()),
          static_cast<unsigned long>(arena_size));
  embbert::Result result;
  for (long n; (n = ReadLine()) >= 0;) {
    const embbert::Status status = classifier.Classify(g_line, static_cast<size_t>(n), &result);
#ifdef EMBBERT_HOST
    double median_us = 0;
    if (repeats > 0) {
      std::vector<double> us;
      for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        classifier.Classify(g_line, static_cast<size_t>(n), &result);
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      }
      std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
      median_us = us[us.size() / 2];
    }
#endif
    if (status != embbert::Status::kOk && status != embbert::Status::kTruncated) {
      printf("error: %s\n", embbert::StatusString(status));
      continue;
    }
    if (raw) {
      for (int c = 0; c < embbert::kNumClasses; ++c) printf(c ? " %d" : "%d", result.raw[c]);
    } else {
      printf("%s\t", embbert::kClassNames[result.label]);
      for (int c = 0; c < embbert::kNumClasses; ++c) printf(c ? " %.4f" : "%.4f", static_cast<double>(result.scores[c]));
    }
    if (status == embbert::Status::kTruncated) printf("\t(truncated to %d tokens)", embbert::kSequenceLength);
#ifdef EMBBERT_HOST
    if (repeats > 0) printf("\t%.1f us", median_us);
#endif
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
