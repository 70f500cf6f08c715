import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldSpool
import EvaldStore
import Foundation

/// A failure a command reports with its own message and exit code.
struct CLIFailure: Error, CustomStringConvertible {
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let runtime: Int32 = 3

    var code: Int32
    var message: String
    var description: String { message }

    /// Prints what went wrong and returns the documented exit code (0 ok, 1 failure found, 2 usage or configuration, 3 runtime).
    static func report(_ error: Error) -> Int32 {
        switch error {
        case let failure as CLIFailure:
            printError(failure.message)
            return failure.code
        case let errors as ConfigErrors:
            printError(errors.description)
            return usage
        case let error as StoreError:
            printError("evald: \(error)")
            return runtime
        case let error as SpoolIOError:
            printError("evald: \(error)")
            return runtime
        case let error as StateDirectoryLock.Held:
            printError("evald: \(error)")
            return runtime
        case let exit as ExitCode:
            return exit.rawValue
        default:
            let code = Evald.exitCode(for: error).rawValue
            let message = Evald.fullMessage(for: error)
            if code == 0 {
                if !message.isEmpty { print(message) }
                return 0
            }
            printError(message.isEmpty ? "evald: \(error)" : message)
            // ArgumentParser's usage errors exit 64 (evald's contract says 2); anything else is a runtime failure.
            return code == ExitCode.validationFailure.rawValue ? usage : runtime
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
    }
}
