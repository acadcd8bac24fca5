// How one operand of an elementwise op repeats over the other, for the broadcasts our kernels run block
// by block (mul_broadcast.cc, add_sub.cc) instead of through TFLM's generic six-dimension index loop.
#ifndef EMBBERT_BROADCAST_H_
#define EMBBERT_BROADCAST_H_

#include "tensorflow/lite/c/common.h"

namespace embbert {

constexpr int kMaxRank = 6;  // as TFLM's broadcast loop

// How `small` repeats over `full` (an operand of the output's shape), with shapes right-aligned:
//   kRow:    small matches the output's trailing dims and is 1 before them: block i of `block` elements
//            pairs with the whole of small;
//   kScalar: small matches the leading dims and is 1 after them: block i pairs with small[i];
//   kNone:   another pattern (or no broadcast).
enum class Repeat { kNone, kRow, kScalar };

inline Repeat Classify(const TfLiteIntArray* small, const TfLiteIntArray* out, int* block) {
  const int rank = out->size;
  if (rank > kMaxRank || small->size > rank) return Repeat::kNone;
  int dims[kMaxRank], count = 1, total = 1;
  for (int i = 0; i < rank; ++i) {
    const int j = i - (rank - small->size);
    dims[i] = j >= 0 ? small->data[j] : 1;
    count *= dims[i];
    total *= out->data[i];
  }
  if (count == 1) {  // a scalar: one block, the whole output
    *block = total;
    return Repeat::kScalar;
  }
  // Split at the first position from which small equals the output to the end (kRow), or until which
  // small equals the output from the start (kScalar); the rest of small must be all 1s.
  int tail = rank;  // small == out on [tail, rank)
  while (tail > 0 && dims[tail - 1] == out->data[tail - 1]) --tail;
  int head = 0;  // small == out on [0, head)
  while (head < rank && dims[head] == out->data[head]) ++head;
  bool ones_before_tail = true, ones_after_head = true;
  for (int i = 0; i < tail; ++i) ones_before_tail &= dims[i] == 1;
  for (int i = head; i < rank; ++i) ones_after_head &= dims[i] == 1;
  int size = 1;
  if (ones_before_tail && tail > 0) {
    for (int i = tail; i < rank; ++i) size *= out->data[i];
    *block = size;
    return Repeat::kRow;
  }
  if (ones_after_head && head < rank) {
    for (int i = head; i < rank; ++i) size *= out->data[i];
    *block = size;
    return Repeat::kScalar;
  }
  return Repeat::kNone;
}

}  // namespace embbert

#endif  // EMBBERT_BROADCAST_H_
