import ArgumentParser
import EvaldCore
import Foundation

struct SampleCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-check",
        abstract: "Print whether a trace id is in the sample, with its randomness and the threshold.")

    @Argument(help: "The trace id (32 hex digits; any other string is hashed).")
    var traceID: String

    @Option(help: "The sampling rate (default: the config's rate for the route, else 0.01).")
    var rate: Double?

    @Option(help: "Apply the config's rate for this route.")
    var route: String?

    @Option(name: .customLong("trace-state"), help: "A W3C tracestate whose ot=rv: value gives the randomness.")
    var traceState: String?

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let rate, !(0...1).contains(rate) { throw ValidationError("--rate must be between 0 and 1") }
        if traceID.isEmpty { throw ValidationError("TRACE_ID must not be empty") }
    }

    func run() async throws {
        // The config is optional here: with --rate the command answers without one (but still
        // applies the configured shard when a config is there).
        let config: EvaldConfig? = options.resolvedPath() != nil ? try options.load() : nil
        let sampler = config?.sampling.makeSampler()
        let effectiveRate = rate ?? sampler?.rate(forRoute: route) ?? 0.01
        let shard = sampler?.shard ?? .all
        let randomness = TraceSampler.randomness(traceID: traceID, traceState: traceState)
        let threshold = TraceSampler.threshold(rate: effectiveRate)
        let inShard = shard.contains(randomness)
        let sampled = inShard && randomness >= threshold
        if output.json {
            var members: [(String, JSONValue)] = [
                ("trace_id", .string(traceID)), ("sampled", .bool(sampled)),
                ("randomness", .string(hex56(randomness))), ("threshold", .string(hex56(threshold))),
                ("rate", .double(effectiveRate)),
            ]
            if shard.count > 1 { members.append(("shard", .string(shard.description))); members.append(("in_shard", .bool(inShard))) }
            print(JSONValue.object(members).serialized())
        } else {
            let verdict = sampled ? "sampled" : "not sampled"
            let comparison = randomness >= threshold ? ">=" : "<"
            var line = "\(traceID): \(verdict) at rate \(effectiveRate) (randomness \(hex56(randomness)) \(comparison) threshold \(hex56(threshold)))"
            if shard.count > 1 { line += inShard ? ", in shard \(shard)" : ", outside shard \(shard)" }
            print(line)
        }
    }
}
