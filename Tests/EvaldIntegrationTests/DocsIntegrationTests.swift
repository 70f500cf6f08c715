import EvaldTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The user docs in `docs/` are the contract users read: they must not drift from the binary.
/// `docs/cli.md` is checked against every command's `--help`, `docs/metrics.md` against a real
/// `/metrics` scrape.
@Suite(.serialized) struct DocsIntegrationTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func doc(_ name: String) throws -> String {
        try String(contentsOfFile: packageRoot + "/docs/" + name, encoding: .utf8)
    }

    /// The lines of one titled section of ArgumentParser's help (`OPTIONS:`, `SUBCOMMANDS:`).
    static func section(_ title: String, of help: String) -> [String] {
        var lines: [String] = []
        var inside = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(title) { inside = true; continue }
            if inside, let first = line.first, first != " " { break }
            if inside { lines.append(String(line)) }
        }
        return lines
    }

    /// Subcommand names: the entries indented by exactly two spaces (wrapped abstracts are
    /// indented further), in lower case (the closing "See 'evald help ...'" line is not one).
    static func subcommands(in help: String) -> [String] {
        section("SUBCOMMANDS:", of: help).compactMap { line in
            guard line.hasPrefix("  "), line.dropFirst(2).first?.isLetter == true else { return nil }
            let name = String(line.dropFirst(2).prefix { $0 != " " })
            guard name.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }) else { return nil }
            return name
        }
    }

    /// `--long` option names of the entries of the OPTIONS section.
    static func options(in help: String) -> [String] {
        section("OPTIONS:", of: help).flatMap { line -> [String] in
            let entry = line.trimmingCharacters(in: .whitespaces)
            guard entry.hasPrefix("-") else { return [] }
            // "-h, --help  Show help." or "--window <window>  The window": the names come before the text.
            let names = entry.components(separatedBy: "  ").first ?? entry
            return names.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "/" })
                .map(String.init).filter { $0.hasPrefix("--") }
        }
    }

    /// `<argument>` names of the ARGUMENTS section.
    static func arguments(in help: String) -> [String] {
        section("ARGUMENTS:", of: help).compactMap { line in
            let entry = line.trimmingCharacters(in: .whitespaces)
            guard entry.hasPrefix("<"), let close = entry.firstIndex(of: ">") else { return nil }
            return String(entry[...close])
        }
    }

    /// The text of cli.md under the heading that names `command` (`## evald spool quarantine`),
    /// up to the next heading of the same or a higher level.
    static func docSection(_ command: String, in doc: String) -> String? {
        let lines = doc.split(separator: "\n", omittingEmptySubsequences: false)
        guard
            let start = lines.firstIndex(where: { line in
                line.hasPrefix("#")
                    && line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
                        .replacingOccurrences(of: "`", with: "") == command
            })
        else { return nil }
        let level = lines[start].prefix { $0 == "#" }.count
        var end = lines.index(after: start)
        while end < lines.endIndex {
            let hashes = lines[end].prefix { $0 == "#" }.count
            if hashes > 0, hashes <= level, lines[end].dropFirst(hashes).first == " " { break }
            end += 1
        }
        return lines[start..<end].joined(separator: "\n")
    }

    @Test func cliDocMatchesEveryCommandsHelp() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            let doc = try Self.doc("cli.md")
            // Walk the command tree from the top-level help.
            var commands: [[String]] = []
            var pending: [[String]] = [[]]
            while let path = pending.popLast(), path.count <= 3 {
                let help = try h.run(path + ["--help"], config: false)
                #expect(help.code == 0, "evald \(path.joined(separator: " ")) --help: \(help.stderr)")
                let children = Self.subcommands(in: help.stdout)
                if !path.isEmpty { commands.append(path) }
                pending += children.filter { $0 != "help" }.map { path + [$0] }
                let title = (["evald"] + path).joined(separator: " ")
                guard let section = Self.docSection(title, in: doc) else {
                    Issue.record("docs/cli.md has no section titled \"\(title)\"")
                    continue
                }
                for option in Self.options(in: help.stdout) {
                    #expect(section.contains(option), "docs/cli.md, section \(title), does not name \(option)")
                }
                for argument in Self.arguments(in: help.stdout) {
                    #expect(section.contains(argument), "docs/cli.md, section \(title), does not name \(argument)")
                }
            }
            #expect(commands.contains(["run"]) && commands.contains(["spool", "quarantine"]), "\(commands)")

            // And the reverse: every `evald WORD` the doc shows as code is a command that exists.
            let known = Set(commands.map { $0[0] } + ["help"])
            var named: [String] = []
            var inBlock = false
            for line in doc.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("```") { inBlock.toggle(); continue }
                if inBlock {
                    let text = line.trimmingCharacters(in: .whitespaces)
                    for prefix in ["$ evald ", "evald "] where text.hasPrefix(prefix) {
                        named.append(String(text.dropFirst(prefix.count).prefix { $0 != " " }))
                        break
                    }
                    continue
                }
                var rest = Substring(line)
                while let range = rest.range(of: "`evald ") {
                    rest = rest[range.upperBound...]
                    named.append(String(rest.prefix { $0 != " " && $0 != "`" }))
                }
            }
            #expect(!named.isEmpty)
            for word in named where !word.hasPrefix("-") && !word.hasPrefix("[") && !word.hasPrefix("<") {
                #expect(known.contains(word), "docs/cli.md names `evald \(word)`, which is not a command")
            }
        }
    }

    @Test func metricsDocNamesEveryScrapedFamily() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig(
                "state_dir: state\nspool:\n  dir: spool\n  poll_interval: 100ms\nsampling:\n  rate: 1\nhttp:\n  listen: \"127.0.0.1:0\"\nchecks:\n  \"*\":\n    - {name: fast, kind: latency, max_ms: 2500}\n"
            )
            try h.append("a.jsonl", (0..<20).map(EvaldHarness.line).joined())
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let port = h.httpPort()
            #expect(port > 0)
            #expect(h.waitUntil { (try? h.spoolStatus("lines_read")) == 20 })
            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            let scrape = String(decoding: data, as: UTF8.self)
            // Every family has a TYPE line; only the scraped names are checked, so a doc that
            // already describes a metric this build does not export yet still passes.
            let families = scrape.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("# TYPE ") else { return nil }
                return line.split(separator: " ").dropFirst(2).first.map(String.init)
            }.filter { $0.hasPrefix("evald_") }
            #expect(families.count >= 10, "\(scrape.prefix(500))")
            let doc = try Self.doc("metrics.md")
            for family in families {
                #expect(doc.contains("`\(family)`"), "docs/metrics.md does not document \(family)")
            }
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }
}
