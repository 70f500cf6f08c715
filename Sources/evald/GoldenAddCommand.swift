import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldStore
import Foundation

struct GoldenAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Copy a replay's inputs into golden.dir/NAME/cases.jsonl, with the production answers as references.",
        discussion: """
            --where lost (the default) takes the inputs on which the candidate lost a metric; --where all takes every \
            input the replay compared. Cases already in the set (same id) are not added twice. The set then differs from its \
            lock: review the new cases and run `evald golden lock NAME`.
            """)

    enum Selection: String, ExpressibleByArgument, CaseIterable {
        case lost, all
    }

    @Argument(help: "The set's name: a folder under golden.dir (created when missing).")
    var name: String

    @Option(name: .customLong("from-replay"), help: ArgumentHelp("The replay whose inputs are copied (r-N).", valueName: "id"))
    var fromReplay: String

    @Option(name: .customLong("where"), help: ArgumentHelp("Which inputs: lost or all.", valueName: "which"))
    var selection: Selection = .lost

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
            throw CLIFailure(code: CLIFailure.usage, message: "evald: \"\(name)\" is not a golden set name; use a folder name under golden.dir")
        }
        guard let number = StoredReplay.number(fromReplay),
            let store = try StateStore.openExisting(path: config.databasePath), let replay = try store.replay(id: number)
        else {
            throw CLIFailure(code: CLIFailure.usage, message: "evald: no replay \(fromReplay) in \(config.databasePath)")
        }
        let chosen = replay.items.filter { item in
            guard item.state == .done, let production = item.production, let candidate = item.candidate else { return false }
            return selection == .all
                || !ReplayPair(evaluationID: item.evaluationID, production: production, candidate: candidate).lostMetrics.isEmpty
        }
        let directory = GoldenSetLoader.directory(name: name, config: config)
        let casesPath = (directory as NSString).appendingPathComponent(GoldenLock.casesFile)
        var existing = Set<String>()
        let current = FileManager.default.contents(atPath: casesPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        for line in current.split(separator: "\n") {
            if case .string(let id)? = (try? JSONParser.parse(String(line)))?["id"] { existing.insert(id) }
        }
        var lines: [String] = []
        var missing = 0
        for item in chosen {
            let id = "\(replay.publicID)-e\(item.evaluationID)"
            guard !existing.contains(id) else { continue }
            guard let json = try store.recordJSON(evaluationID: item.evaluationID), case .object(var fields) = try? JSONParser.parse(json),
                let production = item.productionOutput
            else {
                missing += 1
                continue
            }
            fields.removeAll { $0.0 == "id" || $0.0 == "reference" }
            fields.insert(("id", .string(id)), at: 0)
            fields.append(("reference", .string(production)))
            lines.append(JSONValue.object(fields).serialized())
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let prefix = current.isEmpty || current.hasSuffix("\n") ? "" : "\n"
            let text = current + prefix + lines.map { $0 + "\n" }.joined()
            try text.write(toFile: casesPath, atomically: true, encoding: .utf8)
        } catch {
            throw CLIFailure(code: CLIFailure.runtime, message: "evald: \(casesPath): cannot write (\(error.localizedDescription))")
        }
        print("added \(lines.count) case\(lines.count == 1 ? "" : "s") from \(replay.publicID) to \(casesPath)")
        if missing > 0 { print("\(missing) input\(missing == 1 ? " is" : "s are") no longer stored (retention) and were not added") }
        if !lines.isEmpty { print("review them, then run `evald golden lock \(name)`: until then gate and the canary refuse the set") }
    }
}
