import Foundation
import Mustache

/// A rubric's prompt: the Mustache template after the front matter, compiled and checked.
struct JudgePromptTemplate: Sendable {
    let mustache: MustacheTemplate
    /// The names the template uses, for the check that it shows the judge something of the trace.
    let usedNames: Set<String>

    /// swift-mustache escapes values for HTML unless the template says otherwise; a prompt is plain
    /// text, and `&lt;` in place of a `<` the user typed would change what the judge reads. The
    /// pragma is a standalone line, so it adds nothing to the output; it shifts lines by one,
    /// which `init` takes back out of error positions.
    static let textPragma = "{{% CONTENT_TYPE: TEXT }}\n"

    /// - Parameters:
    ///   - body: the template text.
    ///   - firstLine: the line of the file the body starts on, so errors name lines of the file.
    init(body: String, firstLine: Int, path: String) throws(JudgeRubricError) {
        func failure(_ line: Int?, _ message: String) -> JudgeRubricError {
            JudgeRubricError(path: path, line: line.map { $0 + firstLine - 1 }, key: "template", message: message)
        }
        guard !body.allSatisfy(\.isWhitespace) else {
            throw failure(1, "the prompt template after the front matter is empty")
        }
        let tags: [JudgeTemplateTag]
        do {
            tags = try JudgeTemplateScanner.tags(in: body)
        } catch {
            throw failure(error.line, error.message)
        }
        var sections: [JudgeTemplateTag] = []
        var used = Set<String>()
        for tag in tags {
            switch tag.kind {
            case .comment, .setDelimiter:
                continue
            case .pragma:
                guard tag.name.filter({ !$0.isWhitespace }) == "CONTENT_TYPE:TEXT" else {
                    throw failure(tag.line, "\(tag.text): judge prompts are plain text; the only pragma allowed is {{% CONTENT_TYPE: TEXT }}")
                }
            case .partial, .block:
                throw failure(tag.line, "\(tag.text): partials and blocks are not available in judge prompts; write the text into the rubric")
            case .section, .invertedSection:
                if let problem = Self.problem(with: tag, sections: sections) { throw failure(tag.line, problem) }
                used.insert(tag.name)
                sections.append(tag)
            case .close:
                guard let open = sections.popLast() else {
                    throw failure(tag.line, "\(tag.text) closes a section that was never opened")
                }
                guard open.name == tag.name else {
                    throw failure(tag.line, "\(tag.text) does not close \(open.text) opened on line \(open.line + firstLine - 1)")
                }
            case .variable:
                if let problem = Self.problem(with: tag, sections: sections) { throw failure(tag.line, problem) }
                used.insert(tag.name)
            }
        }
        if let open = sections.last {
            throw failure(open.line, "\(open.text) is never closed (add {{/\(open.name)}})")
        }
        do {
            mustache = try MustacheTemplate(string: Self.textPragma + body)
        } catch let error as MustacheTemplate.ParserError {
            // The scan above finds what people get wrong; this is the backstop for the rest.
            throw failure(max(1, error.context.lineNumber - 1), "not a valid Mustache template: \(Self.describe(error.error))")
        } catch {
            throw failure(nil, "not a valid Mustache template: \(error)")
        }
        usedNames = used
    }

    func render(_ variables: JudgePromptVariables) -> String {
        mustache.render(Self.context(variables))
    }

    /// The values as swift-mustache looks them up: a dictionary, with metadata nested so the
    /// dotted name `metadata.KEY` resolves.
    static func context(_ v: JudgePromptVariables) -> [String: Any] {
        [
            "input_text": PromptText(v.inputText),
            "last_user_message": PromptText(v.lastUserMessage),
            "output": PromptText(v.output),
            "reference": PromptText(v.reference),
            "route": PromptText(v.route),
            "model": PromptText(v.model),
            "tool_calls": PromptText(v.toolCalls, isNull: v.toolCalls.isEmpty || v.toolCalls == "[]"),
            "metadata": v.metadata.mapValues { PromptText($0) },
        ]
    }

    /// Why a tag's name cannot be rendered, or nil when it can.
    static func problem(with tag: JudgeTemplateTag, sections: [JudgeTemplateTag]) -> String? {
        let name = tag.name
        let isSection = tag.kind == .section || tag.kind == .invertedSection
        let known = JudgePromptVariables.names
        if name.isEmpty { return "\(tag.text) names no variable; known variables: \(known.joined(separator: ", ")), metadata.KEY" }
        if name.contains("(") {
            return "\(tag.text): transforms are not available in judge prompts; use the variable as it is"
        }
        if known.contains(name) { return nil }
        if name == "." {
            return sections.isEmpty ? "\(tag.text) outside a section has nothing to show; name a variable, e.g. {{output}}" : nil
        }
        if name == "metadata" {
            return isSection ? nil : "\(tag.text): metadata holds several values; write metadata.KEY, e.g. {{metadata.request_id}}"
        }
        if name.hasPrefix("metadata.") {
            let key = name.dropFirst("metadata.".count)
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_-"))
            guard !key.isEmpty, key.unicodeScalars.allSatisfy(allowed.contains) else {
                return "\(tag.text): \"\(key)\" cannot be a metadata key here (letters, digits, _ and - only)"
            }
            return nil
        }
        // Inside {{#metadata}}, bare names are its keys.
        if sections.contains(where: { $0.name == "metadata" }), !name.contains(".") { return nil }
        let hint = YAMLWalker.closest(name, in: Set(known)).map { " (did you mean {{\($0)}}?)" } ?? ""
        return "unknown variable \"\(name)\" in \(tag.text)\(hint); known variables: \(known.joined(separator: ", ")), metadata.KEY"
    }

    static func describe(_ error: Error) -> String {
        guard let error = error as? MustacheTemplate.Error else { return "\(error)" }
        switch error {
        case .sectionCloseNameIncorrect: return "a closing tag does not match the section it closes"
        case .unfinishedName: return "a tag is not closed, or its name has characters a name cannot have"
        case .expectedSectionEnd: return "a section is never closed"
        case .invalidSetDelimiter: return "a set-delimiter tag is malformed"
        case .invalidConfigVariableSyntax, .unrecognisedConfigVariable: return "a pragma tag is malformed"
        case .transformAppliedToInheritanceSection, .illegalTokenInsideInheritSection, .textInsideInheritSection:
            return "blocks are not available in judge prompts"
        }
    }
}

/// A variable's value as rendered: the text as it is (no HTML escaping, see `textPragma`), and
/// false in a section when empty, as Mustache treats an absent value.
struct PromptText: MustacheCustomRenderable, Sendable {
    let text: String
    let isEmptyValue: Bool

    init(_ text: String, isNull: Bool? = nil) {
        self.text = text
        self.isEmptyValue = isNull ?? text.isEmpty
    }

    var renderText: String { text }
    var isNull: Bool { isEmptyValue }
}
