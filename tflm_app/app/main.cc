// Text in, label out: reads lines from stdin and prints, for each, the label, the scores and a note when
// the text was truncated or rejected. The same program runs on the x86 host and on Cortex-M under QEMU
// (stdin/stdout through semihosting).
//
//   embbert_app [--arena BYTES] [--raw] [--find-arena] [--time N]
//     --arena       use a smaller arena than kTensorArenaSize
//     --raw         print the model's raw int8 outputs instead of label and scores
//     --find-arena  print the smallest arena this build runs the model in (bisection, 16-byte steps)
//     --time N      (host) classify each line N times and append the median microseconds per Classify
//
// Every input line gets one output line: the result, or "error: ..." (an empty line, invalid UTF-8). A
// line longer than EMBBERT_MAX_LINE_BYTES is cut at the last whole character that fits, and says so.
#include <errno.h>
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

#ifdef EMBBERT_ARDUINO_PORT
// The Arduino port's TFLM prints through DebugLog, which its Arduino-only system_setup.cpp defines.
extern "C" void DebugLog(const char* s) { fputs(s, stderr); }
#endif

#ifndef EMBBERT_ARENA_ATTRIBUTE
#define EMBBERT_ARENA_ATTRIBUTE
#endif

namespace {

// Static, not on the stack; on Cortex-M in its own RAM region.
alignas(16) uint8_t g_arena[embbert::kTensorArenaSize] EMBBERT_ARENA_ATTRIBUTE;
char g_line[EMBBERT_MAX_LINE_BYTES];

// Bytes of the UTF-8 character a lead byte starts (1 for anything else: the tokenizer reports it).
long Utf8Length(unsigned char lead) {
  return lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
}

// Reads one line without its newline; returns its length, or -1 at end of input. A line that does not
// fit is cut at the end of its last whole UTF-8 character (*cut is set), so the cut never makes a valid
// line invalid; the rest of the line is skipped.
long ReadLine(bool* cut) {
  long n = 0;
  int c;
  *cut = false;
  while ((c = fgetc(stdin)) != EOF && c != '\n') {
    if (n < static_cast<long>(sizeof(g_line))) {
      g_line[n++] = static_cast<char>(c);
    } else {
      *cut = true;
    }
  }
  if (c == EOF && n == 0) return -1;
  if (*cut) {
    long start = n - 1;  // the last character's first byte
    while (start > 0 && (static_cast<unsigned char>(g_line[start]) & 0xC0) == 0x80) --start;
    if (start + Utf8Length(static_cast<unsigned char>(g_line[start])) > n) n = start;
  } else if (n > 0 && g_line[n - 1] == '\r') {
    --n;
  }
  return n;
}

// A flag's number: the whole argument, decimal digits only, within [lo, hi].
bool ParseCount(const char* text, unsigned long lo, unsigned long hi, unsigned long* value) {
  if (text == nullptr || *text < '0' || *text > '9') return false;  // no sign, no spaces, not empty
  char* end = nullptr;
  errno = 0;
  const unsigned long v = strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *value = v;
  return true;
}

int Usage(const char* problem, const char* arg) {
  fprintf(stderr, "error: %s%s\nusage: embbert_app [--arena BYTES] [--raw] [--find-arena] [--time N]\n",
          problem, arg);
  return 2;
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
  unsigned long repeats = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--arena") == 0) {
      // The arena is a static array of kTensorArenaSize bytes: a larger one cannot be had at run time.
      const char* value = i + 1 < argc ? argv[++i] : nullptr;
      unsigned long bytes = 0;
      if (!ParseCount(value, 0, sizeof(g_arena), &bytes)) {
        static char problem[96];
        snprintf(problem, sizeof(problem), "--arena takes a number of bytes from 0 to %lu (kTensorArenaSize), not ",
                 static_cast<unsigned long>(sizeof(g_arena)));
        return Usage(problem, value ? value : "nothing");
      }
      arena_size = static_cast<size_t>(bytes);
    } else if (strcmp(argv[i], "--raw") == 0) {
      raw = true;
    } else if (strcmp(argv[i], "--find-arena") == 0) {
      find_arena = true;
    } else if (strcmp(argv[i], "--time") == 0) {
      const char* value = i + 1 < argc ? argv[++i] : nullptr;
      if (!ParseCount(value, 1, 1000000, &repeats)) {
        return Usage("--time takes a number of repeats from 1 to 1000000, not ", value ? value : "nothing");
      }
    } else {
      return Usage("unknown argument ", argv[i]);
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
  bool cut = false;
  for (long n; (n = ReadLine(&cut)) >= 0;) {
    const embbert::Status status = classifier.Classify(g_line, static_cast<size_t>(n), &result);
#ifdef EMBBERT_HOST
    double median_us = 0;
    if (repeats > 0) {
      std::vector<double> us;
      for (unsigned long r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        classifier.Classify(g_line, static_cast<size_t>(n), &result);
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      }
      std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
      median_us = us[us.size() / 2];
    }
#endif
    if (status != embbert::Status::kOk && status != embbert::Status::kTruncated) {
      printf("error: %s%s\n", embbert::StatusString(status), cut ? " (line cut to fit the line buffer)" : "");
      continue;
    }
    if (raw) {
      for (int c = 0; c < embbert::kNumClasses; ++c) printf(c ? " %d" : "%d", result.raw[c]);
    } else {
      printf("%s\t", embbert::kClassNames[result.label]);
      for (int c = 0; c < embbert::kNumClasses; ++c) printf(c ? " %.4f" : "%.4f", static_cast<double>(result.scores[c]));
    }
    if (status == embbert::Status::kTruncated) printf("\t(truncated to %d tokens)", embbert::kSequenceLength);
    if (cut) printf("\t(line cut to its first %ld bytes)", n);
#ifdef EMBBERT_HOST
    if (repeats > 0) printf("\t%.1f us", median_us);
#endif
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
