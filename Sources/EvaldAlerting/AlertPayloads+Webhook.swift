import EvaldCore
import Foundation

extension AlertPayloads {
    /// What Alertmanager sends while an alert is firing: Go's zero time, which its webhook
    /// consumers read as "no end yet".
    public static let zeroTime = "0001-01-01T00:00:00Z"

    /// The Alertmanager webhook payload, version "4" (Alertmanager's `webhook_config`), so
    /// existing consumers of Alertmanager webhooks work unchanged:
    /// `receiver`, `status` (firing when any alert fires), `alerts[]` (`status`, `labels`,
    /// `annotations`, `startsAt`, `endsAt`, `generatorURL`, `fingerprint`), `groupLabels`,
    /// `commonLabels`, `commonAnnotations`, `externalURL`, `version`, `groupKey`,
    /// `truncatedAlerts` (always 0: evald never truncates).
    ///
    /// evald does no grouping of its own: each notification is one alert, as Alertmanager's
    /// `group_by: ['...']` would make it, so `groupLabels` are all the labels the alerts share
    /// and `groupKey` (`{}:{k="v", ...}`, Alertmanager's form for the root route) is the same
    /// for an alert's firing, repeat and resolved notifications and differs between alerts.
    /// `generatorURL` of each alert is `externalURL`: evald has no page per alert
    /// (`evald explain ID` is the drill-down).
    public static func webhook(receiver: String, alerts: [Alert], externalURL: String) -> [UInt8] {
        let firing = alerts.contains { $0.state == .firing }
        let items: [JSONValue] = alerts.map { alert in
            let endsAt = alert.state == .resolved ? alert.endsAt.map(time) ?? zeroTime : zeroTime
            return .object([
                ("status", .string(alert.state.rawValue)),
                ("labels", sortedObject(alert.labels)),
                ("annotations", sortedObject(alert.annotations)),
                ("startsAt", .string(time(alert.startsAt))),
                ("endsAt", .string(endsAt)),
                ("generatorURL", .string(externalURL)),
                ("fingerprint", .string(alert.fingerprint)),
            ])
        }
        let commonLabels = common(alerts.map(\.labels))
        return bytes(
            .object([
                ("receiver", .string(receiver)),
                ("status", .string(firing ? AlertState.firing.rawValue : AlertState.resolved.rawValue)),
                ("alerts", .array(items)),
                ("groupLabels", sortedObject(commonLabels)),
                ("commonLabels", sortedObject(commonLabels)),
                ("commonAnnotations", sortedObject(common(alerts.map(\.annotations)))),
                ("externalURL", .string(externalURL)),
                ("version", "4"),
                ("groupKey", .string(groupKey(commonLabels))),
                ("truncatedAlerts", 0),
            ]))
    }

    /// The pairs every map has with the same value.
    static func common(_ maps: [[String: String]]) -> [String: String] {
        guard var shared = maps.first else { return [:] }
        for map in maps.dropFirst() {
            shared = shared.filter { map[$0.key] == $0.value }
        }
        return shared
    }

    /// Alertmanager's `<route key>:<group labels>`, labels as Prometheus prints a label set.
    static func groupKey(_ labels: [String: String]) -> String {
        let pairs = sortedPairs(labels).map { "\($0.key)=\(quoted($0.value))" }
        return "{}:{" + pairs.joined(separator: ", ") + "}"
    }

    /// A Go-style double-quoted string (`%q` for the characters labels hold).
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
