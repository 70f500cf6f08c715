import EvaldCore
import Foundation

extension AlertPayloads {
    /// Block Kit limits (Slack's block reference): a header's plain text 150 characters, a
    /// section's text 3000, each of at most 10 section fields 2000, a context's elements at
    /// most 10. `text` is the notification and fallback line; kept to 3000 too.
    static let slackHeaderLimit = 150
    static let slackTextLimit = 3000
    static let slackFieldLimit = 2000

    /// A Slack incoming-webhook message: `text` (the fallback line shown in notifications)
    /// and `blocks`: a `header` (the event and alertname), a `section` with the summary and
    /// `mrkdwn` fields (route, model, metric, the versions for drift, severity, state), a
    /// `section` with the description when there is one, and a `context` with the runbook
    /// link, the example evaluation ids and the alert's id and times. Resolved alerts say so
    /// in the fallback, the header and the state field.
    public static func slack(_ notification: AlertNotification) -> [UInt8] {
        let alert = notification.alert
        let event: String =
            switch notification.event {
            case .firing: "Firing"
            case .repeat: "Still firing"
            case .resolved: "Resolved"
            }
        let summary = summary(of: alert)

        var blocks: [JSONValue] = []
        blocks.append(
            .object([
                ("type", "header"),
                (
                    "text",
                    .object([
                        ("type", "plain_text"),
                        ("text", .string(TextLimit.truncate("\(event): \(alert.name)", maxUTF16: slackHeaderLimit))),
                    ])
                ),
            ]))

        var fields: [JSONValue] = []
        for (key, title) in [
            ("route", "Route"), ("model", "Model"), ("metric", "Metric"),
            ("version_before", "Version before"), ("version_after", "Version after"),
        ] {
            guard let value = alert.labels[key], !value.isEmpty else { continue }
            fields.append(mrkdwn(field(title, value)))
        }
        fields.append(mrkdwn(field("Severity", alert.severity.rawValue)))
        fields.append(mrkdwn(field("State", notification.isResolution ? "resolved" : "firing")))
        blocks.append(
            .object([
                ("type", "section"),
                ("text", mrkdwn("*" + slackEscaped(summary, limit: slackTextLimit - 2) + "*")),
                ("fields", .array(fields)),
            ]))

        if let description = alert.annotations["description"], !description.isEmpty {
            blocks.append(
                .object([
                    ("type", "section"),
                    ("text", mrkdwn(slackEscaped(description, limit: slackTextLimit))),
                ]))
        }

        var context: [JSONValue] = []
        if let runbook = alert.annotations["runbook_url"], let link = slackLink(runbook, text: "Runbook") {
            context.append(mrkdwn(link))
        }
        if let examples = alert.annotations["examples"], !examples.isEmpty {
            let ids = examples.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if let first = ids.first {
                let line = "Examples: " + ids.map { "`\($0)`" }.joined(separator: ", ") + " (`evald explain \(first)`)"
                context.append(mrkdwn(slackEscaped(line, limit: slackTextLimit)))
            }
        }
        var times = "Alert `\(alert.id)` started \(RFC3339.format(alert.startsAt, fractional: false))"
        if notification.isResolution, let endsAt = alert.endsAt {
            times += ", resolved \(RFC3339.format(endsAt, fractional: false))"
        }
        context.append(mrkdwn(slackEscaped(times, limit: slackTextLimit)))
        blocks.append(.object([("type", "context"), ("elements", .array(context))]))

        let fallback = slackEscaped("[\(event.uppercased())] \(alert.name): \(summary)", limit: slackTextLimit)
        return bytes(.object([("text", .string(fallback)), ("blocks", .array(blocks))]))
    }

    static func mrkdwn(_ text: String) -> JSONValue {
        .object([("type", "mrkdwn"), ("text", .string(text))])
    }

    static func field(_ title: String, _ value: String) -> String {
        slackEscaped("*\(title)*\n\(value)", limit: slackFieldLimit)
    }

    /// Slack's mrkdwn gives `&`, `<` and `>` meaning (entities, links, mentions), so they are
    /// escaped as its formatting reference asks; the limit applies to the escaped text, and
    /// a cut never splits an entity.
    static func slackEscaped(_ text: String, limit: Int) -> String {
        let pieces: [String] = text.map { character in
            switch character {
            case "&": "&amp;"
            case "<": "&lt;"
            case ">": "&gt;"
            default: String(character)
            }
        }
        let whole = pieces.joined()
        guard whole.utf16.count > limit else { return whole }
        var kept = ""
        var used = 1  // the ellipsis
        for piece in pieces {
            let size = piece.utf16.count
            if used + size > limit { break }
            kept += piece
            used += size
        }
        return kept + "…"
    }

    /// `<url|text>`, for http(s) URLs only; the characters that would end the link early
    /// are percent-encoded, `&` is escaped like everywhere in mrkdwn.
    static func slackLink(_ url: String, text: String) -> String? {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://"), url.utf16.count <= slackTextLimit - 64 else { return nil }
        var safe = ""
        for character in url {
            switch character {
            case "|": safe += "%7C"
            case "<": safe += "%3C"
            case ">": safe += "%3E"
            case " ": safe += "%20"
            case "&": safe += "&amp;"
            default: safe.append(character)
            }
        }
        return "<\(safe)|\(text)>"
    }
}
