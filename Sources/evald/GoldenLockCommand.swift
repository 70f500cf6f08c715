import ArgumentParser
import EvaldCore
import EvaldDaemon
import EvaldReports
import Foundation

struct GoldenLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Write golden.dir/NAME/golden.lock: the SHA-256 of cases.jsonl and of every judge and schema file the set uses.",
        discussion:
            "Commands that use a set (gate, calibrate, the canary) refuse it while its files differ from the lock. Run this after changing the set, a rubric or a schema on purpose, and commit the lock with the change."
    )

    @Argument(help: "The set's name: a folder under golden.dir.")
    var name: String

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        let (catalog, problems) = JudgeCatalog.load(
            directory: config.judge.dir, endpoints: config.endpoints, defaultEndpoint: config.judge.defaultEndpoint, send: config.judge.send)
        guard problems.isEmpty else {
            throw CLIFailure(
                code: CLIFailure.usage,
                message: problems.map(\.description).joined(separator: "\n")
                    + "\nevald: fix the judge files first (`evald check-config`), then lock")
        }
        let set: GoldenSet
        do {
            set = try GoldenSetLoader.load(name: name, config: config, rubrics: catalog.rubrics)
        } catch {
            throw GoldenSupport.failure(error)
        }
        let previous = FileManager.default.contents(atPath: set.lockPath).flatMap { try? GoldenLock.parse([UInt8]($0), path: set.lockPath) }
        let lock = GoldenLock(set: name, files: set.hashes, lockedAt: Date())
        do {
            try lock.serialized().write(toFile: set.lockPath, atomically: true, encoding: .utf8)
        } catch {
            throw CLIFailure(code: CLIFailure.runtime, message: "evald: cannot write \(set.lockPath): \(error.localizedDescription)")
        }
        print("locked golden set \"\(name)\" (\(set.cases.count) cases): \(set.lockPath)")
        let changes = previous.map { Dictionary(($0.verify(current: set.hashes)).map { ($0.file, $0.kind) }, uniquingKeysWith: { a, _ in a }) } ?? [:]
        for (file, hash) in lock.files.sorted(by: { $0.key < $1.key }) {
            let note =
                switch changes[file] {
                case .changed?: " (changed)"
                case .added?: " (new)"
                default: ""
                }
            print("  \(hash)  \(file)\(note)")
        }
        for (file, kind) in changes.sorted(by: { $0.key < $1.key }) where kind == .missing {
            print("  removed from the lock: \(file)")
        }
    }
}
