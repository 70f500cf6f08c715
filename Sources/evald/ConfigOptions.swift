import ArgumentParser
import EvaldCore
import Foundation

/// `--config FILE`, shared by every command.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The config file (else $EVALD_CONFIG, ./evald.yaml, /etc/evald/evald.yaml).", valueName: "file"))
    var config: String?

    static let systemPath = "/etc/evald/evald.yaml"

    /// The config path by the documented order (--config, $EVALD_CONFIG, ./evald.yaml, /etc/evald/evald.yaml), or nil when none exists.
    func resolvedPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let config { return config }
        if let path = environment["EVALD_CONFIG"], !path.isEmpty { return path }
        if FileManager.default.fileExists(atPath: "evald.yaml") { return "evald.yaml" }
        if FileManager.default.fileExists(atPath: Self.systemPath) { return Self.systemPath }
        return nil
    }

    /// Loads the configuration; warnings go to stderr, errors are thrown (exit 2).
    func load(printWarnings: Bool = true) throws -> EvaldConfig {
        let environment = ProcessInfo.processInfo.environment
        guard let path = resolvedPath(environment: environment) else {
            throw CLIFailure(
                code: CLIFailure.usage,
                message: "evald: no configuration found: pass --config FILE, set EVALD_CONFIG, or create ./evald.yaml or \(Self.systemPath)")
        }
        let (config, warnings) = try EvaldConfig.load(path: path, environment: environment)
        if printWarnings { warnings.forEach { CLIFailure.printError($0.description) } }
        return config
    }
}

/// `--json`, shared by every query command.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (a stable interface) instead of a table.")
    var json = false
}
