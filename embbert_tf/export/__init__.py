"""Everything a microcontroller build needs, generated from a trained run: C++ sources for the model,
its op resolver and arena size, the vocabulary and the tokenizer's Unicode tables, and an Arduino library."""
