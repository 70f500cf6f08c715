import EvaldCore
import Foundation
import Testing

@Suite struct AlertTests {
    static let start = Date(timeIntervalSince1970: 1_795_860_000)  // 2026-11-28T10:00:00Z

    static func sample(labels: [String: String] = ["route": "support-chat", "model": "gpt-4o-mini", "metric": "judge:helpfulness"]) -> Alert {
        Alert(
            id: "a-17", name: "QualityRegression", severity: .warning, labels: labels,
            annotations: ["summary": "helpfulness dropped"], state: .firing, startsAt: start)
    }

    // MARK: fingerprint

    @Test func fingerprintFollowsTheDocumentedRule() {
        // sha256("a\u{1f}1\u{1e}b\u{1f}2"), first 16 hex digits (python3 hashlib).
        #expect(AlertFingerprint.of(["b": "2", "a": "1"]) == "20493483e19e50dd")
        #expect(AlertFingerprint.of([:]) == "e3b0c44298fc1c14")
    }

    @Test func fingerprintIsStableAndOrderIndependent() {
        var forward: [String: String] = [:]
        var backward: [String: String] = [:]
        let pairs = (0..<40).map { ("label_\($0)", "value \($0)") }
        for (key, value) in pairs { forward[key] = value }
        for (key, value) in pairs.reversed() { backward[key] = value }
        let fingerprint = AlertFingerprint.of(forward)
        #expect(fingerprint == AlertFingerprint.of(backward))
        #expect(fingerprint == AlertFingerprint.of(forward))
        #expect(fingerprint.count == 16)
        #expect(fingerprint.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test func fingerprintDiffersWhenALabelDiffers() {
        let base = ["alertname": "QualityRegression", "route": "support-chat", "metric": "judge:helpfulness"]
        let fingerprint = AlertFingerprint.of(base)
        var changedValue = base
        changedValue["route"] = "refunds"
        var added = base
        added["model"] = "gpt-4o"
        var renamedKey = base
        renamedKey["routes"] = renamedKey.removeValue(forKey: "route")
        #expect(AlertFingerprint.of(changedValue) != fingerprint)
        #expect(AlertFingerprint.of(added) != fingerprint)
        #expect(AlertFingerprint.of(renamedKey) != fingerprint)
        // The separators keep "a"+"bc" apart from "ab"+"c".
        #expect(AlertFingerprint.of(["a": "bc"]) != AlertFingerprint.of(["ab": "c"]))
    }

    // MARK: Alert

    @Test func initAddsAlertnameAndSeverityLabels() {
        let alert = Self.sample(labels: ["route": "support-chat", "alertname": "Wrong", "severity": "info"])
        #expect(alert.labels["alertname"] == "QualityRegression")
        #expect(alert.labels["severity"] == "warning")
        #expect(alert.labels["route"] == "support-chat")
        #expect(alert.fingerprint == AlertFingerprint.of(alert.labels))
        #expect(alert.endsAt == nil)
    }

    @Test func fingerprintFollowsLabelChanges() {
        var alert = Self.sample()
        let before = alert.fingerprint
        alert.labels["model"] = "gpt-4o"
        #expect(alert.fingerprint != before)
        #expect(alert.fingerprint == AlertFingerprint.of(alert.labels))

        alert.severity = .critical
        #expect(alert.labels["severity"] == "critical")
        #expect(alert.fingerprint == AlertFingerprint.of(alert.labels))

        alert.labels = ["route": "r"]
        #expect(alert.labels == ["route": "r", "alertname": "QualityRegression", "severity": "critical"])
        #expect(alert.fingerprint == AlertFingerprint.of(alert.labels))
    }

    @Test func severitiesAreOrderedByUrgency() {
        #expect(AlertSeverity.info < .warning)
        #expect(AlertSeverity.warning < .critical)
        #expect(AlertSeverity.allCases.sorted() == [.info, .warning, .critical])
        #expect(AlertSeverity(rawValue: "critical") == .critical)
    }

    @Test func jsonOfEvaldAlerts() {
        var alert = Self.sample()
        #expect(
            alert.jsonValue.serialized()
                == #"{"id":"a-17","alertname":"QualityRegression","state":"firing","severity":"warning","labels":{"alertname":"QualityRegression","metric":"judge:helpfulness","model":"gpt-4o-mini","route":"support-chat","severity":"warning"},"annotations":{"summary":"helpfulness dropped"},"started_at":"2026-11-28T10:00:00Z","resolved_at":null,"fingerprint":"\#(alert.fingerprint)"}"#
        )
        alert.state = .resolved
        alert.endsAt = Self.start.addingTimeInterval(3600)
        #expect(alert.jsonValue["resolved_at"] == .string("2026-11-28T11:00:00Z"))
        #expect(alert.jsonValue["state"] == .string("resolved"))
    }

    // MARK: runbook

    @Test func runbookURLRendersLabels() {
        let labels = ["alertname": "QualityRegression", "route": "refunds/eu west", "metric": "judge:tone"]
        #expect(
            RunbookURL.render("https://wiki.example.com/evald/{{alertname}}", labels: labels)
                == "https://wiki.example.com/evald/QualityRegression")
        #expect(
            RunbookURL.render("https://wiki/{{ route }}/{{metric}}", labels: labels)
                == "https://wiki/refunds%2Feu%20west/judge%3Atone")
        #expect(RunbookURL.render("https://wiki/{{unknown}}x", labels: labels) == "https://wiki/x")
        #expect(RunbookURL.render("https://wiki/no-placeholders", labels: labels) == "https://wiki/no-placeholders")
        #expect(RunbookURL.render("https://wiki/{{alertname", labels: labels) == "https://wiki/{{alertname")
        #expect(RunbookURL.render("https://wiki/{{route}}", labels: ["route": "café"]) == "https://wiki/caf%C3%A9")
    }

    @Test func defaultRunbookIsTheAlertsSectionOfTheDocs() {
        let labels = ["alertname": "QualityRegression", "route": "support-chat"]
        #expect(
            RunbookURL.url(template: nil, base: "file:///usr/local/share/doc/evald", labels: labels)
                == "file:///usr/local/share/doc/evald/alerts.md#qualityregression")
        #expect(
            RunbookURL.url(template: nil, base: "https://docs.example.com/evald", labels: ["alertname": "SpoolStalled"])
                == "https://docs.example.com/evald/alerts.md#spoolstalled")
        // runbook_url, when set, wins over the base.
        #expect(RunbookURL.url(template: "https://wiki/{{alertname}}", base: "file:///x", labels: labels) == "https://wiki/QualityRegression")
    }

    @Test func runbookBaseFromConfig() {
        #expect(RunbookURL.base(configured: "https://docs.example.com/evald/", configDirectory: "/etc/evald") == "https://docs.example.com/evald")
        #expect(RunbookURL.base(configured: "file:///opt/docs", configDirectory: "/etc/evald") == "file:///opt/docs")
        // No scheme: a folder, relative to the config file's folder.
        #expect(RunbookURL.base(configured: "../docs", configDirectory: "/srv/evald/examples") == "file:///srv/evald/docs")
        #expect(RunbookURL.base(configured: "/srv/my docs/", configDirectory: "/etc/evald") == "file:///srv/my%20docs")
        #expect(
            RunbookURL.base(configured: "~/docs", configDirectory: "/etc/evald")
                == RunbookURL.base(configured: NSHomeDirectory() + "/docs", configDirectory: "/"))
    }

    @Test func installedDocsFollowTheBinarysPrefix() {
        #expect(RunbookURL.installedDocsBase(executablePath: "/usr/local/bin/evald") == "file:///usr/local/share/doc/evald")
        #expect(RunbookURL.installedDocsBase(executablePath: "/opt/evald/bin/evald") == "file:///opt/evald/share/doc/evald")
        #expect(RunbookURL.installedDocsBase(executablePath: "/usr/bin/evald") == "file:///usr/share/doc/evald")
        // Not in a bin folder (a development build): the Makefile's default PREFIX.
        #expect(RunbookURL.installedDocsBase(executablePath: "/src/evald/.build/debug/evald") == "file:///usr/local/share/doc/evald")
        #expect(RunbookURL.installedDocsBase(executablePath: nil) == "file:///usr/local/share/doc/evald")
    }
}
