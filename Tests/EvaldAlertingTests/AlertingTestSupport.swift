import EvaldCore
import Foundation
import Testing

@testable import EvaldAlerting

/// 2026-11-28T10:00:00Z, and ten minutes later.
let alertStart = Date(timeIntervalSince1970: 1_795_860_000)
let deliveryNow = alertStart.addingTimeInterval(600)

func sampleAlert(
    severity: AlertSeverity = .warning, state: AlertState = .firing, endsAt: Date? = nil,
    labels: [String: String] = ["route": "support-chat", "model": "gpt-4o-mini", "metric": "judge:helpfulness"],
    annotations: [String: String] = [
        "summary": "judge:helpfulness pass rate dropped on support-chat",
        "description": "baseline 0.92 (n=4000), current 0.81 (n=350), CUSUM 6.1 > h=5.2",
        "runbook_url": "https://wiki.example.com/evald/QualityRegression",
        "examples": "e-101,e-102,e-103",
    ]
) -> Alert {
    Alert(
        id: "a-17", name: "QualityRegression", severity: severity, labels: labels, annotations: annotations,
        state: state, startsAt: alertStart, endsAt: endsAt)
}

/// Parsed with Foundation rather than the project's own parser, so a payload is checked by
/// an independent reader.
func parseJSON(_ bytes: [UInt8]) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(bytes))
}

func parseObject(_ bytes: [UInt8]) throws -> [String: Any] {
    try #require(try parseJSON(bytes) as? [String: Any])
}

func date(_ value: Any?) -> Date? {
    (value as? String).flatMap(RFC3339.parse)
}
