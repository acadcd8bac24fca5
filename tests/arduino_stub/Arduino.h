// A minimal stand-in for the Arduino core API, so that a generated sketch and its library compile and
// run on the host in tests: Serial reads stdin and writes stdout; micros() is a monotonic clock.
#ifndef EMBBERT_ARDUINO_STUB_H_
#define EMBBERT_ARDUINO_STUB_H_

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <string>

inline unsigned long micros() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<unsigned long>(ts.tv_sec * 1000000ul + ts.tv_nsec / 1000);
}
inline unsigned long millis() { return micros() / 1000; }
inline void delay(unsigned long) {}

class String {
 public:
  String() = default;
  explicit String(const std::string& s) : s_(s) {}
  const char* c_str() const { return s_.c_str(); }
  unsigned int length() const { return static_cast<unsigned int>(s_.size()); }
  void trim() {
    const char* ws = " \t\r\n";
    const size_t a = s_.find_first_not_of(ws);
    s_ = a == std::string::npos ? "" : s_.substr(a, s_.find_last_not_of(ws) - a + 1);
  }

 private:
  std::string s_;
};

class StubSerial {
 public:
  void begin(unsigned long) {}
  explicit operator bool() const { return true; }
  int available() {
    const int c = fgetc(stdin);
    if (c == EOF) {
      eof_ = true;
      return 0;
    }
    ungetc(c, stdin);
    return 1;
  }
  bool eof() const { return eof_; }
  String readStringUntil(char end) {
    std::string s;
    for (int c; (c = fgetc(stdin)) != EOF && c != end;) s.push_back(static_cast<char>(c));
    return String(s);
  }
  void print(const char* s) { fputs(s, stdout); }
  void print(unsigned long v) { printf("%lu", v); }
  void print(double v, int digits) { printf("%.*f", digits, v); }
  void println(const char* s) {
    puts(s);
    fflush(stdout);
  }

 private:
  bool eof_ = false;
};

extern StubSerial Serial;

#endif  // EMBBERT_ARDUINO_STUB_H_
