// Stand-in for the Arduino_TensorFlowLite library's umbrella header: the host build compiles TFLM itself.
