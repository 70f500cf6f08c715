/// The output-side leak checks: a system prompt reproduced, a planted canary string echoed.
public enum LeakDetection {
    /// Words as the leak check compares them: runs of letters and digits, lowercased, so that
    /// punctuation, spacing and case changes do not hide a copy.
    static func words(_ text: String) -> [Substring] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }
    }

    /// The longest run of the system message's words the output reproduces, when it is at least
    /// `minWords` long: its length and its words.
    public static func reproducedRun(system: String, output: String, minWords: Int) -> (length: Int, words: [Substring])? {
        let source = words(system), copy = words(output)
        guard minWords > 0, source.count >= minWords, copy.count >= minWords else { return nil }
        // Every window of minWords words of the system message, then each match grown as far as
        // it goes: linear in the two lengths for the windows, and a match only grows once.
        var windows: [ArraySlice<Substring>: [Int]] = [:]
        for start in 0...(source.count - minWords) { windows[source[start..<(start + minWords)], default: []].append(start) }
        var best: (length: Int, words: [Substring])?
        var at = 0
        while at + minWords <= copy.count {
            guard let starts = windows[copy[at..<(at + minWords)]] else {
                at += 1
                continue
            }
            var longest = minWords
            for start in starts {
                var length = minWords
                while start + length < source.count, at + length < copy.count, source[start + length] == copy[at + length] { length += 1 }
                longest = max(longest, length)
            }
            if longest > (best?.length ?? 0) { best = (longest, Array(copy[at..<(at + longest)])) }
            at += longest
        }
        return best
    }

    /// Where the first of `canaries` appears: in the output, or in a tool call's arguments.
    public static func canary(_ canaries: [String], output: String?, toolCalls: [TraceRecord.ToolCall]) -> (canary: String, place: String)? {
        for canary in canaries {
            if let output, output.contains(canary) { return (canary, "the output") }
            if let call = toolCalls.first(where: { $0.arguments.contains(canary) }) { return (canary, "the arguments of tool call \(call.name)") }
        }
        return nil
    }
}
