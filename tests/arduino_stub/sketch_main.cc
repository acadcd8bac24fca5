// Runs a sketch on the host: setup() once, then loop() until stdin is exhausted.
#include "Arduino.h"

StubSerial Serial;

void setup();
void loop();

int main() {
  setup();
  while (!Serial.eof()) loop();
  return 0;
}
