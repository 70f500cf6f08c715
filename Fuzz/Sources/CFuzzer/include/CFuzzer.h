#include <stddef.h>
#include <stdint.h>

/// libFuzzer's callback, defined in Swift (`@_cdecl("LLVMFuzzerTestOneInput")`, Main.swift).
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
