#include "CFuzzer.h"

/// libFuzzer's entry for programs that bring their own main (compiler-rt, LLVM 11 and later).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/// The executable's entry point. SwiftPM links an executable target on ELF with
/// `--defsym main=<module>_main` (so tests can link executable modules), and `evald-fuzz` has
/// no Swift `main` (`-parse-as-library`, no `@main`): without this symbol the link fails, and
/// with libFuzzer's own `main` alongside, ld.gold crashed. So `main` is this, and it hands over
/// to libFuzzer's driver, which calls `LLVMFuzzerInitialize` and then the Swift callback.
int evald_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
