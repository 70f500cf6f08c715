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
    /// The `runbook_url` of an alert: `alerts.runbook_url` rendered when it is set, else the
    /// alert's section in the shipped alert reference, `<runbook_base>/alerts.md#<alertname in
    /// lower case>` (the anchor a Markdown renderer gives the heading `## QualityRegression`).
    public static func url(template: String?, base: String, labels: [String: String]) -> String {
        if let template { return render(template, labels: labels) }
        let anchor = escapePathSegment((labels["alertname"] ?? "").lowercased())
        return base + "/alerts.md" + (anchor.isEmpty ? "" : "#" + anchor)
    }

    /// `alerts.runbook_base` as written in the config: a value with a URL scheme (`https:`,
    /// `file:`) is taken as it is; anything else is a path, made absolute against the config
    /// file's folder (`configDirectory`) and turned into a `file://` URL. A trailing `/` is
    /// dropped so that `<base>/alerts.md` has one slash.
    public static func base(configured value: String, configDirectory: String) -> String {
        var value = value.trimmingCharacters(in: .whitespaces)
        if hasScheme(value) {
            while value.hasSuffix("/") { value.removeLast() }
            return value
        }
        // A folder is resolved like the config's other paths: `~` expanded, relative to the config's folder.
        let expanded = (value as NSString).expandingTildeInPath
        let absolute = expanded.hasPrefix("/") ? expanded : (configDirectory as NSString).appendingPathComponent(expanded)
        return fileURL(forDirectory: (absolute as NSString).standardizingPath)
    }

    /// The default `alerts.runbook_base`: the docs that `make install` puts in
    /// `$(PREFIX)/share/doc/evald`. PREFIX is taken from where the running binary lives, since
    /// `make install` puts it in `$(PREFIX)/bin`: `/opt/evald/bin/evald` gives
    /// `file:///opt/evald/share/doc/evald`. A binary outside a `bin` folder (a development
    /// build under `.build/`) gets the Makefile's default PREFIX, `/usr/local`.
    public static func installedDocsBase(executablePath: String?) -> String {
        var prefix = defaultPrefix
        if let executablePath, executablePath.hasPrefix("/") {
            let folder = (executablePath as NSString).deletingLastPathComponent
            if (folder as NSString).lastPathComponent == "bin" {
                prefix = (folder as NSString).deletingLastPathComponent
            }
        }
        return fileURL(forDirectory: ((prefix.isEmpty ? "/" : prefix) as NSString).appendingPathComponent("share/doc/evald"))
    }

    /// The Makefile's default PREFIX.
    public static let defaultPrefix = "/usr/local"

    /// The running binary's own path (`/proc/self/exe` names the file even when it was started
    /// through a symlink), for `installedDocsBase`.
    public static let runningExecutablePath: String? = {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return CommandLine.arguments.first.map { ($0 as NSString).standardizingPath }
    }()

    static func hasScheme(_ value: String) -> Bool {
        // RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
        guard let colon = value.firstIndex(of: ":"), let first = value.first, first.isASCII, first.isLetter else { return false }
        return value[..<colon].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }

    static func fileURL(forDirectory path: String) -> String {
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        let encoded = trimmed.split(separator: "/", omittingEmptySubsequences: true).map { escapePathSegment(String($0)) }.joined(separator: "/")
        return "file:///" + encoded
    }

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
