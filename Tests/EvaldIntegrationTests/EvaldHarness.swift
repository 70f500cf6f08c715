import EvaldCore
import EvaldStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `evald` binary against a temporary spool and state directory.
final class EvaldHarness: @unchecked Sendable {
    let root: String
    let spool: String
    let state: String
    let configPath: String

    /// The binary `swift build` put beside the test bundle (or $EVALD_BIN).
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["EVALD_BIN"] { return path }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("evald").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/debug/evald").path
    }()

    /// `listen`: the HTTP listener (`127.0.0.1:0` for an ephemeral port, see `httpPort()`).
    init(config extra: String = "", rate: Double = 1, pollInterval: String = "100ms", listen: String = "") throws {
        root = NSTemporaryDirectory() + "evald-it-\(UUID().uuidString)"
        spool = root + "/spool"
        state = root + "/state"
        configPath = root + "/evald.yaml"
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        try configure(extra, rate: rate, pollInterval: pollInterval, listen: listen)
    }

    /// Writes the harness's config (its spool and state) with `extra` added: for a test that
    /// learns part of its config (a port) after the harness exists.
    func configure(_ extra: String = "", rate: Double = 1, pollInterval: String = "100ms", listen: String = "") throws {
        try writeConfig(
            """
            state_dir: state
            spool:
              dir: spool
              poll_interval: \(pollInterval)
            sampling:
              rate: \(rate)
            http:
              listen: "\(listen)"
            \(extra)
            """)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:] }
    }

    /// Runs a command to completion (`evald` unless `executable` names another program).
    @discardableResult
    func run(_ arguments: [String], config: Bool = true, environment: [String: String] = [:], executable: String = binary) throws -> Result {
        let process = makeProcess(arguments, config: config, environment: environment, executable: executable)
        // Files, not pipes: a child that fills one pipe while the test reads the other would hang.
        let outPath = root + "/.out-\(UUID().uuidString)", errPath = root + "/.err-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        process.waitUntilExit()
        let stdout = FileManager.default.contents(atPath: outPath) ?? Data()
        let stderr = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(code: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Starts `evald run` in the background; its log goes to `root/daemon-N.log`.
    func startDaemon(logName: String = "daemon.log", environment: [String: String] = [:]) throws -> Process {
        let process = makeProcess(["run"], config: true, environment: environment)
        FileManager.default.createFile(atPath: root + "/" + logName, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/" + logName))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// Starts any command in the background; its output goes to `root/logName`.
    func start(_ arguments: [String], logName: String, executable: String = binary, config: Bool = true) throws -> Process {
        let process = makeProcess(arguments, config: config, environment: [:], executable: executable)
        FileManager.default.createFile(atPath: root + "/" + logName, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/" + logName))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// Starts any command in the background, its stdout and stderr in `root/NAME.out` and `.err`.
    func start(_ arguments: [String], name: String, environment: [String: String] = [:]) throws -> Process {
        let process = makeProcess(arguments, config: true, environment: environment)
        for suffix in ["out", "err"] { FileManager.default.createFile(atPath: "\(root)/\(name).\(suffix)", contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(root)/\(name).out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(root)/\(name).err"))
        try process.run()
        return process
    }

    func output(_ name: String, _ suffix: String = "out") -> String {
        (try? String(contentsOfFile: "\(root)/\(name).\(suffix)", encoding: .utf8)) ?? ""
    }

    private func makeProcess(_ arguments: [String], config: Bool, environment: [String: String], executable: String = binary) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + (config ? ["--config", configPath] : [])
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "EVALD_CONFIG")
        env.merge(environment) { $1 }
        process.environment = env
        return process
    }

    func status() throws -> [String: Any] {
        let result = try run(["status", "--json"])
        return result.json
    }

    func spoolStatus(_ key: String) throws -> Int64 {
        ((try status()["spool"] as? [String: Any])?[key] as? NSNumber)?.int64Value ?? -1
    }

    /// Polls until `condition` holds or `timeout` seconds pass.
    /// A 1-5 judge that sees only the answer (pass at 4), for tests whose stub grades by it.
    static let answerOnlyRubric = """
        ---
        name: helpfulness
        version: 1
        scale: {min: 1, max: 5}
        pass_at: 4
        ---
        Grade the answer.
        Answer: {{output}}
        Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}
        """

    /// Writes `judges/NAME.md` (the config's `judge.dir: judges`).
    func writeJudge(_ rubric: String = EvaldHarness.answerOnlyRubric, name: String = "helpfulness") throws {
        try FileManager.default.createDirectory(atPath: root + "/judges", withIntermediateDirectories: true)
        try rubric.write(toFile: root + "/judges/\(name).md", atomically: true, encoding: .utf8)
    }

    func waitUntil(timeout: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date() + timeout
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    /// The port the daemon's HTTP listener got (`http.listen` on port 0), from the
    /// `http.port=` of its log; 0 when it has not said within `timeout` seconds.
    func httpPort(logName: String = "daemon.log", timeout: Double = 20) -> Int {
        var port = 0
        _ = waitUntil(timeout: timeout) {
            let log = (try? String(contentsOfFile: root + "/" + logName, encoding: .utf8)) ?? ""
            guard let range = log.range(of: #"http\.port=\d+"#, options: .regularExpression) else { return false }
            port = Int(log[range].dropFirst("http.port=".count)) ?? 0
            return port > 0
        }
        return port
    }

    func store() throws -> StateStore {
        try StateStore.open(path: state + "/evald.db")
    }

    /// The state database opened read-only, as `evald status` opens it: it never waits for
    /// nor takes the write lock, so polling it does not slow the daemon under test. Nil
    /// before the daemon has created it.
    func readOnlyStore() throws -> StateStore? {
        try StateStore.openExisting(path: state + "/evald.db")
    }

    func append(_ name: String, _ text: String) throws {
        let path = spool + "/" + name
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// A native record whose trace id spreads over the whole randomness range.
    static func traceID(_ n: Int) -> String {
        String(format: "%016llx%016llx", UInt64(n), UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
    }

    static func line(_ n: Int) -> String {
        let routes = ["support-chat", "extract-order", "refunds-assist"]
        return
            #"{"trace_id":"\#(traceID(n))","timestamp":"2026-11-28T10:00:00.000Z","route":"\#(routes[n % 3])","model":"gpt-4o-mini","input":[{"role":"user","content":"question \#(n)"}],"output":"answer \#(n)","latency_ms":\#(n % 5000)}"#
            + "\n"
    }

    static func expectedSample(_ numbers: some Sequence<Int>, rate: Double) -> Set<String> {
        Set(numbers.map(traceID).filter { TraceSampler.isKept(randomness: TraceSampler.randomness(traceID: $0), rate: rate) })
    }
}
