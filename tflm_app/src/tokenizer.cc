#include "tokenizer.h"

#include <string.h>

namespace embbert {
namespace {

// text.BertTokenizer's defaults: longer words become [UNK]; continuation pieces start with "##".
constexpr int kMaxWordBytes = 100;
constexpr int kMaxPiecesPerWord = kMaxWordBytes;

// Decodes one UTF-8 code point at s[*i]; returns -1 on malformed input (overlong forms, surrogates,
// values above U+10FFFF and truncated sequences included).
int32_t DecodeUtf8(const unsigned char* s, size_t length, size_t* i) {
  const unsigned char c = s[*i];
  int n;
  int32_t cp;
  if (c < 0x80) {
    *i += 1;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    n = 1;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 2;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 3;
    cp = c & 0x07;
  } else {
    return -1;
  }
  for (int k = 1; k <= n; ++k) {
    if (*i + k >= length) return -1;
    const unsigned char cc = s[*i + k];
    if ((cc & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static const int32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *i += n + 1;
  return cp;
}

int EncodeUtf8(uint32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  } else if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  } else if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

void Reverse(int32_t* first, int32_t* last) {
  while (first < last) {
    const int32_t t = *first;
    *first++ = *--last;
    *last = t;
  }
}

// Writes [CLS] pieces [SEP] into ids. A text with more pieces than the room between [CLS] and [SEP] keeps
// its first `head` pieces and, in the rest of the room, its last ones: the tail is a ring buffer in ids
// itself, put in order at the end, so any length of text streams through in seq_len ints.
class Encoder {
 public:
  Encoder(const TokenizerData& data, int32_t* ids, int seq_len, int head) : d_(data), ids_(ids) {
    const int room = seq_len - 2;  // pieces that fit between [CLS] and [SEP]
    head_ = (head < 0 || head > room) ? room : head;
    tail_ = ids_ + 1 + head_;
    tail_capacity_ = room - head_;
    ids_[0] = d_.cls_id;
  }

  // Feeds one normalised code point.
  void Put(uint32_t cp) {
    if (cp == ' ') {
      Flush();
    } else if (IsSplit(cp)) {
      Flush();
      Append(cp);
      Flush();
    } else {
      Append(cp);
    }
  }

  int Finish() {
    Flush();
    if (tail_full_) {  // oldest first: rotate left by tail_next_
      Reverse(tail_, tail_ + tail_next_);
      Reverse(tail_ + tail_next_, tail_ + tail_capacity_);
      Reverse(tail_, tail_ + tail_capacity_);
    }
    int count = 1 + head_kept_ + (tail_full_ ? tail_capacity_ : tail_next_);
    ids_[count++] = d_.sep_id;
    return count;
  }

  bool truncated() const { return truncated_; }

 private:
  bool IsSplit(uint32_t cp) const {
    int lo = 0, hi = d_.split_count - 1;
    while (lo <= hi) {
      const int mid = (lo + hi) / 2;
      if (cp < d_.split_ranges[2 * mid]) {
        hi = mid - 1;
      } else if (cp > d_.split_ranges[2 * mid + 1]) {
        lo = mid + 1;
      } else {
        return true;
      }
    }
    return false;
  }

  void Append(uint32_t cp) {
    char bytes[4];
    const int n = EncodeUtf8(cp, bytes);
    if (word_len_ + n > kMaxWordBytes) {
      too_long_ = true;  // keep consuming the word; it becomes [UNK]
      word_len_ += n;
      return;
    }
    memcpy(word_ + word_len_, bytes, n);
    word_len_ += n;
  }

  void Emit(int32_t id) {
    if (head_kept_ < head_) {
      ids_[1 + head_kept_++] = id;
      return;
    }
    if (tail_capacity_ == 0) {  // the start alone: later pieces are dropped
      truncated_ = true;
      return;
    }
    if (tail_full_) truncated_ = true;  // overwrites the oldest piece of the tail
    tail_[tail_next_] = id;
    if (++tail_next_ == tail_capacity_) {
      tail_next_ = 0;
      tail_full_ = true;
    }
  }

  // Binary search for ("##" if continuation) + word[start, end).
  int32_t Lookup(int start, int end) const {
    const bool suffix = start > 0;
    const int len = end - start + (suffix ? 2 : 0);
    int lo = 0, hi = d_.vocab_size - 1;
    while (lo <= hi) {
      const int mid = (lo + hi) / 2;
      const char* entry = d_.vocab_pool + d_.vocab_offsets[mid];
      const int entry_len = static_cast<int>(d_.vocab_offsets[mid + 1] - d_.vocab_offsets[mid]);
      int cmp = 0;
      const int n = entry_len < len ? entry_len : len;
      for (int k = 0; k < n && cmp == 0; ++k) {
        const unsigned char a = static_cast<unsigned char>(entry[k]);
        const unsigned char b = suffix ? (k < 2 ? '#' : word_[start + k - 2])
                                       : static_cast<unsigned char>(word_[start + k]);
        cmp = (a > b) - (a < b);
      }
      if (cmp == 0) cmp = (entry_len > len) - (entry_len < len);
      if (cmp == 0) return d_.vocab_ids[mid];
      if (cmp < 0) {
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return -1;
  }

  // Greedy longest-match-first WordPiece; a word that cannot be covered is one [UNK].
  void Flush() {
    if (word_len_ == 0) return;
    if (too_long_) {
      Emit(d_.unk_id);
    } else {
      int32_t pieces[kMaxPiecesPerWord];
      int num_pieces = 0;
      int start = 0;
      while (start < word_len_) {
        int end = word_len_;
        int32_t id = -1;
        while (end > start) {
          id = Lookup(start, end);
          if (id >= 0) break;
          do {  // back up one whole UTF-8 character
            --end;
          } while (end > start && (static_cast<unsigned char>(word_[end]) & 0xC0) == 0x80);
        }
        if (id < 0) {
          num_pieces = -1;
          break;
        }
        pieces[num_pieces++] = id;
        start = end;
      }
      if (num_pieces < 0) {
        Emit(d_.unk_id);
      } else {
        for (int k = 0; k < num_pieces; ++k) Emit(pieces[k]);
      }
    }
    word_len_ = 0;
    too_long_ = false;
  }

  const TokenizerData& d_;
  int32_t* ids_;
  int head_;               // pieces kept from the start of a longer text
  int head_kept_ = 0;
  int32_t* tail_;          // the ring of the latest pieces after the head
  int tail_capacity_;
  int tail_next_ = 0;
  bool tail_full_ = false;
  bool truncated_ = false;
  char word_[kMaxWordBytes + 4];
  int word_len_ = 0;
  bool too_long_ = false;
};

constexpr int kMaxNormalForm = 32;  // the longest normal form of one code point (checked at export)

// Writes the normal form of cp to out[] and returns its length (0: cp vanishes).
int Normalise(const TokenizerData& d, uint32_t cp, uint32_t* out) {
  if (cp >= 0xAC00 && cp <= 0xD7A3) {  // Hangul syllable: Unicode's algorithmic decomposition
    const uint32_t s = cp - 0xAC00;
    out[0] = 0x1100 + s / 588;
    out[1] = 0x1161 + (s % 588) / 28;
    const uint32_t tail = 0x11A7 + s % 28;
    if (tail == 0x11A7) return 2;
    out[2] = tail;
    return 3;
  }
  int lo = 0, hi = d.multi_count - 1;
  while (lo <= hi) {
    const int mid = (lo + hi) / 2;
    if (d.multi_keys[mid] < cp) {
      lo = mid + 1;
    } else if (d.multi_keys[mid] > cp) {
      hi = mid - 1;
    } else {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(d.multi_pool + d.multi_offsets[mid]);
      const size_t n = d.multi_offsets[mid + 1] - d.multi_offsets[mid];
      int count = 0;
      for (size_t j = 0; j < n && count < kMaxNormalForm;) out[count++] = static_cast<uint32_t>(DecodeUtf8(p, n, &j));
      return count;
    }
  }
  lo = 0;
  hi = d.run_count - 1;
  while (lo <= hi) {  // the last run starting at or before cp
    const int mid = (lo + hi) / 2;
    if (d.run_first[mid] <= cp) {
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (hi >= 0 && cp < d.run_first[hi] + d.run_length[hi]) {
    switch (d.run_kind[hi]) {
      case 0:
        return 0;
      case 1:
        out[0] = static_cast<uint32_t>(static_cast<int32_t>(cp) + d.run_value[hi]);
        return 1;
      default:
        out[0] = static_cast<uint32_t>(d.run_value[hi]);
        return 1;
    }
  }
  out[0] = cp;
  return 1;
}

}  // namespace

const char* TokenizeStatusString(TokenizeStatus status) {
  switch (status) {
    case TokenizeStatus::kOk:
      return "ok";
    case TokenizeStatus::kTruncated:
      return "truncated";
    case TokenizeStatus::kInvalidUtf8:
      return "invalid UTF-8";
    case TokenizeStatus::kBadArgument:
      return "bad argument";
  }
  return "unknown";
}

TokenizeStatus Tokenize(const TokenizerData& data, const char* text, size_t length, int32_t* ids,
                        int seq_len, int head_tokens, int* count) {
  if (ids == nullptr || seq_len < 2 || (text == nullptr && length > 0)) return TokenizeStatus::kBadArgument;
  const unsigned char* s = reinterpret_cast<const unsigned char*>(text);
  // Validate first, so that invalid text never yields a partial encoding.
  for (size_t i = 0; i < length;) {
    if (DecodeUtf8(s, length, &i) < 0) {
      for (int k = 0; k < seq_len; ++k) ids[k] = data.pad_id;
      ids[0] = data.cls_id;
      ids[1] = data.sep_id;
      if (count != nullptr) *count = 2;
      return TokenizeStatus::kInvalidUtf8;
    }
  }
  Encoder encoder(data, ids, seq_len, head_tokens);
  for (size_t i = 0; i < length;) {
    uint32_t normal[kMaxNormalForm];
    const int n = Normalise(data, static_cast<uint32_t>(DecodeUtf8(s, length, &i)), normal);
    for (int j = 0; j < n; ++j) encoder.Put(normal[j]);
  }
  const int used = encoder.Finish();
  for (int k = used; k < seq_len; ++k) ids[k] = data.pad_id;
  if (count != nullptr) *count = used;
  return encoder.truncated() ? TokenizeStatus::kTruncated : TokenizeStatus::kOk;
}

}  // namespace embbert
