/// The SQuAD answer comparison (Rajpurkar et al. 2016, the official evaluation script):
/// lower-case, drop punctuation and the articles a/an/the, collapse whitespace; then exact
/// match, or F1 over the bag of tokens.
public enum ReferenceMatch {
    public static func normalize(_ text: String) -> String {
        let lowered = text.lowercased()
        let withoutPunctuation = String(String.UnicodeScalarView(lowered.unicodeScalars.filter { !isPunctuation($0) }))
        let tokens = withoutPunctuation.split(whereSeparator: { $0.isWhitespace }).filter { $0 != "a" && $0 != "an" && $0 != "the" }
        return tokens.joined(separator: " ")
    }

    /// SQuAD removes Python's `string.punctuation` (ASCII punctuation and symbols); Unicode
    /// punctuation (curly quotes, dashes) goes too, since models write it.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars.contains(scalar) }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    public static func exactMatch(_ prediction: String, _ reference: String) -> Bool {
        normalize(prediction) == normalize(reference)
    }

    public static func f1(_ prediction: String, _ reference: String) -> Double {
        let predicted = normalize(prediction).split(separator: " ")
        let expected = normalize(reference).split(separator: " ")
        // Both empty is a match; one empty is not (as in the SQuAD v2 script).
        if predicted.isEmpty || expected.isEmpty { return predicted.isEmpty && expected.isEmpty ? 1 : 0 }
        var counts: [Substring: Int] = [:]
        for token in expected { counts[token, default: 0] += 1 }
        var common = 0
        for token in predicted where (counts[token] ?? 0) > 0 {
            counts[token]! -= 1
            common += 1
        }
        guard common > 0 else { return 0 }
        let precision = Double(common) / Double(predicted.count)
        let recall = Double(common) / Double(expected.count)
        return 2 * precision * recall / (precision + recall)
    }
}
