import ArgumentParser
import EvaldCore
import EvaldStore
import Foundation

struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect the spool.",
        subcommands: [QuarantineCommand.self])
}

struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "List the quarantined lines (newest first) with file, offset and reason.")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Show at most this many lines.")
    var limit = 50

    @Option(help: "Only lines quarantined for this reason (e.g. invalid_json, missing_field, line_too_long).")
    var reason: String?

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive") }
        if let reason, QuarantineReason(rawValue: reason) == nil {
            throw ValidationError("--reason must be one of: \(QuarantineReason.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let config = try options.load()
        guard let store = try StateStore.openExisting(path: config.databasePath) else {
            print(output.json ? #"{"total": 0, "lines": []}"# : "no quarantined lines (evald has not run with this state_dir yet)")
            return
        }
        let (entries, total) = try store.quarantine(limit: limit, reason: reason)
        if output.json {
            let lines: [JSONValue] = entries.map { entry in
                .object([
                    ("id", .int(entry.id)),
                    ("file", .string(entry.filePath)),
                    ("offset", .int(entry.lineOffset)),
                    ("bytes", .int(entry.lineBytes)),
                    ("reason", .string(entry.reason)),
                    ("detail", .string(entry.detail)),
                    ("excerpt", .string(String(decoding: entry.excerpt, as: UTF8.self))),
                    ("quarantined_at", .string(RFC3339.format(entry.quarantinedAt, fractional: false))),
                ])
            }
            print(JSONValue.object([("total", .int(Int64(total))), ("lines", .array(lines))]).serialized(pretty: true))
            return
        }
        guard total > 0 else { print("no quarantined lines"); return }
        print("\(total) quarantined line\(total == 1 ? "" : "s")\(total > entries.count ? ", newest \(entries.count) shown" : ""):")
        for entry in entries {
            let excerpt = String(decoding: entry.excerpt.prefix(120), as: UTF8.self)
                .replacingOccurrences(of: "\n", with: " ")
            print("\(entry.filePath):@\(entry.lineOffset)  \(entry.reason)  \(entry.detail)")
            print("    \(excerpt)\(entry.excerpt.count > 120 ? "..." : "")")
        }
    }
}
