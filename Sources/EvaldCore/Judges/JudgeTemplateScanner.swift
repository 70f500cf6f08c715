import Foundation

/// One `{{...}}` tag of a prompt template, where it is and what it names.
struct JudgeTemplateTag: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case variable, section, invertedSection, close, comment, setDelimiter, pragma, partial, block
    }

    var kind: Kind
    /// The name inside the tag, trimmed (for a pragma, its text).
    var name: String
    /// The tag as written, for messages.
    var text: String
    /// 1-based, within the template.
    var line: Int
}

/// Reads the tags of a Mustache template with their lines.
///
/// swift-mustache keeps its tokens to itself and renders an unknown name as nothing; a rubric
/// with `{{ouput}}` would then grade answers it never shows the judge. Scanning the tags here
/// lets the loader name the file, the line and the likely meant variable instead.
enum JudgeTemplateScanner {
    struct Failure: Error, Sendable, Equatable {
        var line: Int
        var message: String
    }

    static func tags(in template: String) throws(Failure) -> [JudgeTemplateTag] {
        var open = "{{", close = "}}"
        var tags: [JudgeTemplateTag] = []
        var position = template.startIndex
        var line = 1
        while let start = template.range(of: open, range: position..<template.endIndex) {
            line += newlines(template[position..<start.lowerBound])
            let contentStart = start.upperBound
            // Triple mustache: `{{{name}}}` closes with one more brace than it opens.
            let triple = template[contentStart...].first == "{"
            let closing = triple ? "}" + close : close
            guard let end = template.range(of: closing, range: contentStart..<template.endIndex) else {
                throw Failure(line: line, message: "the tag opened with \"\(open)\" is never closed with \"\(closing)\"")
            }
            let raw = String(template[contentStart..<end.lowerBound])
            let text = open + raw + closing
            var content = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            var kind = JudgeTemplateTag.Kind.variable
            if triple {
                content = String(content.dropFirst()).trimmingCharacters(in: .whitespaces)
            } else if let sigil = content.first {
                switch sigil {
                case "#": kind = .section
                case "^": kind = .invertedSection
                case "/": kind = .close
                case "!": kind = .comment
                case "=": kind = .setDelimiter
                case "%": kind = .pragma
                case ">": kind = .partial
                case "<", "$": kind = .block
                case "&": kind = .variable
                default: break
                }
                if kind != .variable || sigil == "&" {
                    content = String(content.dropFirst()).trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            if kind == .setDelimiter {
                let parts = content.hasSuffix("=") ? content.dropLast().split(whereSeparator: \.isWhitespace) : []
                guard parts.count == 2 else {
                    throw Failure(line: line, message: "\(text) is not a set-delimiter tag like {{=<% %>=}}")
                }
                open = String(parts[0])
                close = String(parts[1])
            }
            tags.append(JudgeTemplateTag(kind: kind, name: content, text: text, line: line))
            line += newlines(template[start.lowerBound..<end.upperBound])
            position = end.upperBound
        }
        return tags
    }

    static func newlines(_ text: Substring) -> Int {
        text.utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    }
}
