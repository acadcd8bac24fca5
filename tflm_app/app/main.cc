// Text in, label out: reads lines from stdin and prints, for each, the label, the scores and a note when
// the text was truncated or rejected. The same program runs on the x86 host and on Cortex-M under QEMU
// (stdin/stdout through semihosting).
//
//   embbert_app [--arena BYTES] [--raw]
//     --arena  use a smaller or larger tensor arena than kTensorArenaSize (at most that size)
//     --raw    print the model's raw int8 outputs instead of label and scores
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "model_data.h"
#include "model_settings.h"

namespace {

alignas(16) uint8_t g_arena[embbert::kTensorArenaSize];
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
  size_t arena_size = sizeof(g_arena);
  bool raw = false;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--arena") == 0 && i + 1 < argc) {
      arena_size = static_cast<size_t>(strtoul(argv[++i], nullptr, 10));
      if (arena_size > sizeof(g_arena)) arena_size = sizeof(g_arena);
    } else if (strcmp(argv[i], "--raw") == 0) {
      raw = true;
    }
  }
  static embbert::Classifier classifier;
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
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
