import Foundation

// A hand-written entry point instead of @main, so that every failure maps to the exit
// codes: 2 bad usage or configuration, 3 runtime failure.
exit(await Evald.runMain())
