import Foundation

/// Finds the JSON in a model's output: the whole output, or with `allowFenced` the body of a
/// Markdown code block fenced with ``` or ```json, which models add on their own.
public enum JSONOutput {
    public enum Failure: Error, Equatable {
        case notJSON(String)
        case fencedNotAllowed
    }

    public static func parse(_ output: String, allowFenced: Bool) -> Result<JSONValue, Failure> {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        let direct: JSONParseError
        do {
            return .success(try JSONParser.parse(trimmed))
        } catch {
            direct = error
        }
        guard let body = fencedBody(trimmed) else { return .failure(.notJSON(direct.description)) }
        guard allowFenced else {
            return (try? JSONParser.parse(body)) != nil ? .failure(.fencedNotAllowed) : .failure(.notJSON(direct.description))
        }
        do {
            return .success(try JSONParser.parse(body))
        } catch {
            return .failure(.notJSON("in the fenced block: \(error)"))
        }
    }

    /// The body of the first ``` fence, with an optional `json` language tag.
    static func fencedBody(_ text: String) -> String? {
        guard let open = text.range(of: "```") else { return nil }
        var rest = text[open.upperBound...]
        if let newline = rest.firstIndex(of: "\n") {
            let tag = rest[..<newline].trimmingCharacters(in: .whitespaces).lowercased()
            guard tag.isEmpty || tag == "json" || tag == "jsonc" else { return nil }
            rest = rest[rest.index(after: newline)...]
        }
        guard let close = rest.range(of: "```") else { return nil }
        return String(rest[..<close.lowerBound])
    }
}
