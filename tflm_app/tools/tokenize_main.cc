// Host tool for the tokenizer parity test: reads records (4-byte little-endian length, then the text's
// bytes) from stdin and prints, per record, the status and the ids up to the last non-pad one.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vector>

#include "tokenizer.h"
#include "tokenizer_data.h"

int main(int argc, char** argv) {
  const int seq_len = argc > 1 ? atoi(argv[1]) : 64;
  const int head_tokens = argc > 2 ? atoi(argv[2]) : -1;  // -1: keep the start
  std::vector<int32_t> ids(seq_len);
  std::vector<char> text;
  unsigned char header[4];
  while (fread(header, 1, 4, stdin) == 4) {
    const uint32_t length = header[0] | header[1] << 8 | header[2] << 16 | static_cast<uint32_t>(header[3]) << 24;
    text.resize(length);
    if (length > 0 && fread(text.data(), 1, length, stdin) != length) return 1;
    int count = 0;
    const embbert::TokenizeStatus status =
        embbert::Tokenize(embbert::kTokenizerData, text.data(), length, ids.data(), seq_len, head_tokens, &count);
    printf("%s", embbert::TokenizeStatusString(status));
    for (int i = 0; i < count; ++i) printf(" %d", ids[i]);
    printf("\n");
  }
  return 0;
}
