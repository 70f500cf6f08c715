import Foundation

extension Alert {
    /// One entry of `evald alerts --json`, a stable interface: `id`, `alertname`,
    /// `state`, `labels`, `annotations`, `started_at`, `resolved_at` (null while firing), and
    /// also `severity` and `fingerprint`. Labels and annotations are sorted by key so the
    /// output is the same from run to run.
    public var jsonValue: JSONValue {
        .object([
            ("id", .string(id)),
            ("alertname", .string(name)),
            ("state", .string(state.rawValue)),
            ("severity", .string(severity.rawValue)),
            ("labels", Self.sortedObject(labels)),
            ("annotations", Self.sortedObject(annotations)),
            ("started_at", .string(RFC3339.format(startsAt, fractional: false))),
            ("resolved_at", .optional(endsAt.map { RFC3339.format($0, fractional: false) })),
            ("fingerprint", .string(fingerprint)),
        ])
    }

    static func sortedObject(_ map: [String: String]) -> JSONValue {
        .object(map.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, .string($0.value)) })
    }
}
