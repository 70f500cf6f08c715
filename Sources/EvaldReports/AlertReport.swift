import EvaldCore
import EvaldStore
import Foundation

/// What `evald alerts` shows: each alert with its labels, annotations, the numbers of its
/// last state change, and where its notifications stand.
public struct AlertReport: Sendable {
    public struct Entry: Sendable {
        public var alert: StoredAlert
        public var transitions: [AlertTransitionRecord]
        public var examples: [Int64]
        public var sent: Int
        public var pending: Int
        public var gaveUp: Int
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public static func gather(store: StateStore?, all: Bool) throws -> AlertReport {
        guard let store else { return AlertReport(entries: []) }
        return AlertReport(
            entries: try store.alerts(includeResolved: all).map { alert in
                let notifications = try store.notifications(alertID: alert.id)
                return Entry(
                    alert: alert, transitions: try store.alertTransitions(id: alert.id), examples: try store.alertExamples(id: alert.id),
                    sent: notifications.count { $0.sentAt != nil },
                    pending: notifications.count { $0.sentAt == nil && $0.gaveUpAt == nil },
                    gaveUp: notifications.count { $0.gaveUpAt != nil })
            })
    }

    public static func json(_ entry: Entry) -> JSONValue {
        let a = entry.alert
        func strings(_ d: [String: String]) -> JSONValue { .object(d.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }) }
        return .object([
            ("id", .string(a.publicID)),
            ("alertname", .string(a.name)),
            ("severity", .string(a.severity)),
            ("state", .string(a.state)),
            ("fingerprint", .string(a.fingerprint)),
            ("labels", strings(a.labels)),
            ("annotations", strings(a.annotations)),
            ("started_at", .string(RFC3339.format(a.startedAt, fractional: false))),
            ("resolved_at", .optional(a.resolvedAt.map { RFC3339.format($0, fractional: false) })),
            // The numbers of the last state change that had any (a resolution by a cleared condition has none).
            (
                "numbers",
                .object((entry.transitions.last { !$0.numbers.isEmpty }?.numbers ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) })
            ),
            ("examples", .array(entry.examples.map { .string("e-\($0)") })),
            ("notifications", .object([("sent", .int(Int64(entry.sent))), ("pending", .int(Int64(entry.pending))), ("gave_up", .int(Int64(entry.gaveUp)))])),
        ])
    }

    public var json: JSONValue { .object([("alerts", .array(entries.map(Self.json)))]) }

    public var text: String {
        guard !entries.isEmpty else { return "no alerts" }
        var lines: [String] = []
        for e in entries {
            let a = e.alert
            var head = "\(a.publicID)  \(a.state.uppercased())  \(a.name) (\(a.severity))  since \(RFC3339.format(a.startedAt, fractional: false))"
            if let resolved = a.resolvedAt { head += ", resolved \(RFC3339.format(resolved, fractional: false))" }
            lines.append(head)
            let labels = a.labels.filter { $0.key != "alertname" && $0.key != "severity" }.sorted { $0.key < $1.key }
            if !labels.isEmpty { lines.append("    labels:  " + labels.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }
            if let summary = a.annotations["summary"] { lines.append("    summary: \(summary)") }
            if let description = a.annotations["description"] { lines.append("    detail:  \(description)") }
            if !e.examples.isEmpty { lines.append("    examples: " + e.examples.map { "e-\($0)" }.joined(separator: " ") + "   (evald explain \(a.publicID))") }
            lines.append("    notifications: \(e.sent) sent, \(e.pending) pending" + (e.gaveUp > 0 ? ", \(e.gaveUp) given up" : ""))
        }
        return lines.joined(separator: "\n")
    }
}
