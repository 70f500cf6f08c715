import EvaldCore
import EvaldTesting
import Foundation
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2.5e3, 0, true, false, null], "b": {"c": "d"}, "e": "", "big": 12345678901234567890} "#)
        #expect(value["a"] == .array([.int(1), .double(-2500), .int(0), .bool(true), .bool(false), .null]))
        #expect(value["b"]?["c"] == .string("d"))
        #expect(value["e"] == .string(""))
        #expect(value["big"]?.numberValue == 12345678901234567890)
        #expect(value["missing"] == nil)
        // A repeated key: the first wins, as in the sampling scan.
        #expect(try JSONParser.parse(#"{"k": 1, "k": 2}"#)["k"] == .int(1))
    }

    @Test func decodesEscapes() throws {
        let value = try JSONParser.parse(#""q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00 €""#)
        #expect(value == .string("q\" b\\ s/ \u{8}\u{c}\n\r\t é 😀 €"))
        // A lone surrogate becomes U+FFFD instead of failing the line.
        #expect(try JSONParser.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
        #expect(try JSONParser.parse(#""\ud800\u0041""#) == .string("\u{FFFD}A"))
        #expect(try JSONParser.parse(#""\udc00""#) == .string("\u{FFFD}"))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "[1 2]", "01", "1.", "-", "1e", ".5", "tru", "nul",
        "\"unterminated", "\"tab\there\"", "\"bad \\x escape\"", "\"\\u12\"", "{} {}", "{'a': 1}", "[NaN]",
    ])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect((try? JSONParser.parse(fine)) != nil)
    }

    /// Every line of the shipped example spool parses to the same values as Foundation's parser.
    @Test func agreesWithFoundationOnTheExampleSpool() async throws {
        try await offPool {
            let spool = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("examples/spool")
            let files = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { $0.hasSuffix(".jsonl") }
            #expect(!files.isEmpty)
            var compared = 0
            for file in files {
                let text = try String(contentsOf: spool.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n").prefix(300) {
                    let foundation = try? JSONSerialization.jsonObject(with: Data(line.utf8))
                    let ours = try? JSONParser.parse(String(line))
                    #expect((foundation == nil) == (ours == nil), "\(line.prefix(100))")
                    if let foundation, let ours {
                        #expect(Self.same(foundation, ours), "\(line.prefix(100))")
                        compared += 1
                    }
                }
            }
            #expect(compared > 1000)
        }
    }

    static func same(_ a: Any, _ b: JSONValue) -> Bool {
        switch b {
        case .null: return a is NSNull
        case .bool(let v): return (a as? NSNumber).map { String(cString: $0.objCType) == "c" && $0.boolValue == v } ?? false
        case .int(let v): return (a as? NSNumber)?.int64Value == v
        case .double(let v): return (a as? NSNumber)?.doubleValue == v
        case .string(let v): return a as? String == v
        case .array(let items):
            guard let list = a as? [Any], list.count == items.count else { return false }
            return zip(list, items).allSatisfy { same($0, $1) }
        case .object(let members):
            guard let dict = a as? [String: Any], dict.count == members.count else { return false }
            return members.allSatisfy { key, value in dict[key].map { same($0, value) } ?? false }
        }
    }
}
