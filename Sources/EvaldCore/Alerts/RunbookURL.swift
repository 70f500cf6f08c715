import Foundation

/// Renders `alerts.runbook_url`, e.g. `https://wiki.example.com/evald/{{alertname}}`, into the
/// `runbook_url` annotation of one alert.
///
/// `{{name}}` (spaces inside the braces allowed) is replaced by the label `name`'s value,
/// percent-encoded as one URL path segment (RFC 3986: everything but the unreserved
/// characters `A-Z a-z 0-9 - . _ ~`), so a route such as `refunds/eu` cannot change the
/// path's shape. A placeholder naming a label the alert does not have renders empty: one
/// runbook template serves alerts with different labels. An unclosed `{{` is kept as written.
public enum RunbookURL {
    public static func render(_ template: String, labels: [String: String]) -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            output += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                output += rest[open.lowerBound...]
                return output
            }
            let name = afterOpen[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            output += escapePathSegment(labels[name] ?? "")
            rest = afterOpen[close.upperBound...]
        }
        output += rest
        return output
    }

    static func escapePathSegment(_ value: String) -> String {
        var escaped = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                escaped += "%" + (byte < 16 ? "0" + hex : hex)
            }
        }
        return escaped
    }
}
