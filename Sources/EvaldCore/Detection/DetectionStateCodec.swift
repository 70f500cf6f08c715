import Foundation

/// How detection state is stored (`detection_state` rows as JSON): written by the daemon's
/// detection and canary, read by the reports (`evald status`, `metrics`, `drift`).
public enum DetectionStateCodec {
    /// One per series (metric, measure, route, model): a `SeriesMonitor`.
    public static let seriesKind = "series"
    /// One per (route, model): a `ProviderVersionWatch`.
    public static let versionsKind = "versions"
    /// One per (dimension, route): a `ChangeWatch` (key `prompt_version|ROUTE` or `model|ROUTE`).
    public static let changesKind = "changes"
    /// What detection has consumed.
    public static let cursorKind = "cursor"

    /// Non-finite numbers (a rate over nothing) are written as strings rather than failing the round.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}

/// The daemon's heartbeat: written this often, so a reader can tell a live daemon from a dead one.
public enum DaemonHeartbeat {
    public static let interval = 2.0
}
