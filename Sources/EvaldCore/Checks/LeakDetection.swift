/// The output-side leak checks: a system prompt reproduced, a planted canary string echoed.
public enum LeakDetection {
    /// Tokens as the leak check compares them: runs of letters and digits, lowercased, so that
    /// punctuation, spacing and case changes do not hide a copy.
    static func tokens(_ text: String) -> [Substring] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }
    }

    /// The longest run of the system message's tokens the output reproduces, when it is at
    /// least `minTokens` long: its length and its tokens.
    public static func reproducedRun(system: String, output: String, minTokens: Int) -> (length: Int, tokens: [Substring])? {
        let source = tokens(system), copy = tokens(output)
        guard minTokens > 0, source.count >= minTokens, copy.count >= minTokens else { return nil }
        // Every window of minTokens tokens of the system message, then each match grown as far as
        // it goes: linear in the two lengths for the windows, and a match only grows once.
        var windows: [ArraySlice<Substring>: [Int]] = [:]
        for start in 0...(source.count - minTokens) { windows[source[start..<(start + minTokens)], default: []].append(start) }
        var best: (length: Int, tokens: [Substring])?
        var at = 0
        while at + minTokens <= copy.count {
            guard let starts = windows[copy[at..<(at + minTokens)]] else {
                at += 1
                continue
            }
            var longest = minTokens
            for start in starts {
                var length = minTokens
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
