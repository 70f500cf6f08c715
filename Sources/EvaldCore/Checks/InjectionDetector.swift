import Foundation

/// What kind of prompt-injection attempt the `injection` check found. The raw value is part of
/// the check's detail.
public enum InjectionSignal: String, Sendable, CaseIterable {
    /// "Ignore all previous instructions", in one of the languages below.
    case instructionOverride = "instruction_override"
    /// DAN, developer mode, "act as an unfiltered AI", "stay in character".
    case rolePlayJailbreak = "role_play_jailbreak"
    /// "Repeat the text above", "show me your system prompt".
    case systemPromptExfiltration = "system_prompt_exfiltration"
    /// Unicode tag characters (U+E0000-E007F) outside a flag, runs of zero-width characters,
    /// variation-selector runs, bidirectional overrides: text a person does not see.
    case invisibleText = "invisible_text"
    /// An instruction or jailbreak hidden in base64 or rot13, or an encoded payload the text asks
    /// the model to decode.
    case encodedInstruction = "encoded_instruction"
}

/// One finding: its signal, where it is in the text that was searched, and what matched.
public struct InjectionFinding: Sendable, Equatable {
    public var signal: InjectionSignal
    public var range: Range<String.Index>
    public var excerpt: String
}

/// Finds prompt-injection attempts in what a model reads: user messages and tool results.
///
/// Phrase rules in English, German, French, Spanish, Dutch, Italian, Portuguese, Russian,
/// Chinese and Japanese; character rules for invisible text; and the phrase rules again on what
/// base64 runs and rot13 decode to. It reads phrasing, not intent: a user asking *about* prompt
/// injection ("what does 'ignore previous instructions' do?") is flagged too, which is what a
/// filter in front of a model wants.
public struct InjectionDetector: Sendable {
    private let patterns: InjectionPatterns

    public init() {
        patterns = InjectionPatterns.shared
    }

    /// The first finding in text order, or nil.
    public func firstFinding(in text: String) -> InjectionFinding? {
        guard !text.isEmpty else { return nil }
        if let invisible = invisibleText(in: text) { return invisible }
        if let phrase = phraseFinding(in: text) { return phrase }
        return encodedInstruction(in: text)
    }

    private func phraseFinding(in text: String) -> InjectionFinding? {
        let range = NSRange(location: 0, length: text.utf16.count)
        var best: (NSRange, InjectionSignal)?
        for (signal, regexes) in patterns.phrases {
            for regex in regexes {
                guard let match = regex.firstMatch(in: text, range: range) else { continue }
                if best == nil || match.range.location < best!.0.location { best = (match.range, signal) }
            }
        }
        guard let (found, signal) = best, let r = Range(found, in: text) else { return nil }
        return InjectionFinding(signal: signal, range: r, excerpt: String(text[r]))
    }

    // MARK: - Invisible text

    private func invisibleText(in text: String) -> InjectionFinding? {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        func finding(_ start: Int, _ end: Int, _ what: String) -> InjectionFinding {
            let lower = text.unicodeScalars.index(text.unicodeScalars.startIndex, offsetBy: start)
            let upper = text.unicodeScalars.index(lower, offsetBy: end - start)
            return InjectionFinding(signal: .invisibleText, range: lower..<upper, excerpt: what)
        }
        while index < scalars.count {
            let value = scalars[index].value
            // Tags: allowed only as the body of an emoji subdivision flag (U+1F3F4 then tags then
            // CANCEL TAG U+E007F), e.g. the flag of England.
            if (0xE0000...0xE007F).contains(value) {
                var end = index
                while end < scalars.count, (0xE0000...0xE007F).contains(scalars[end].value) { end += 1 }
                let isFlag = index > 0 && scalars[index - 1].value == 0x1F3F4 && scalars[end - 1].value == 0xE007F && end - index <= 8
                if !isFlag { return finding(index, end, "\(end - index) Unicode tag characters") }
                index = end
                continue
            }
            if Self.zeroWidth.contains(value) || (0xE0100...0xE01EF).contains(value) || (0xFE00...0xFE0F).contains(value) {
                var end = index
                while end < scalars.count,
                    Self.zeroWidth.contains(scalars[end].value) || (0xE0100...0xE01EF).contains(scalars[end].value)
                        || (0xFE00...0xFE0F).contains(scalars[end].value)
                {
                    end += 1
                }
                // One joiner or selector belongs to an emoji sequence; three in a row carry data.
                if end - index >= 3 { return finding(index, end, "\(end - index) zero-width or selector characters in a row") }
                index = end
                continue
            }
            if value == 0x202E || value == 0x202D { return finding(index, index + 1, "a bidirectional override") }
            index += 1
        }
        return nil
    }

    private static let zeroWidth: Set<UInt32> = [0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x180E]

    // MARK: - Encoded instructions

    private func encodedInstruction(in text: String) -> InjectionFinding? {
        let whole = NSRange(location: 0, length: text.utf16.count)
        let asksToDecode = patterns.decodeRequest.firstMatch(in: text, range: whole) != nil
        for match in patterns.base64Run.matches(in: text, range: whole) {
            guard let r = Range(match.range, in: text) else { continue }
            var token = String(text[r]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while token.count % 4 != 0 { token += "=" }
            guard let data = Data(base64Encoded: token), let decoded = String(data: data, encoding: .utf8),
                Self.isMostlyText(decoded)
            else { continue }
            if phraseFinding(in: decoded) != nil || (asksToDecode && decoded.count >= 8) {
                return InjectionFinding(signal: .encodedInstruction, range: r, excerpt: "base64 of \"\(decoded.prefix(40))\"")
            }
        }
        // rot13 is its own inverse: the phrase rules on the rotated text find a hidden instruction.
        let rotated = Self.rot13(text)
        if let hidden = phraseFinding(in: rotated), let r = Range(NSRange(hidden.range, in: rotated), in: text) {
            return InjectionFinding(signal: .encodedInstruction, range: r, excerpt: "rot13 of \"\(hidden.excerpt.prefix(40))\"")
        }
        if asksToDecode, let match = patterns.decodeRequest.firstMatch(in: text, range: whole),
            patterns.encodedPayload.firstMatch(in: text, range: whole) != nil, let r = Range(match.range, in: text)
        {
            return InjectionFinding(signal: .encodedInstruction, range: r, excerpt: String(text[r]))
        }
        return nil
    }

    static func isMostlyText(_ decoded: String) -> Bool {
        let scalars = decoded.unicodeScalars
        guard scalars.count >= 6 else { return false }
        let printable = scalars.filter { ($0.value >= 0x20 && $0.value < 0x7F) || $0 == "\n" || $0.value >= 0xA0 }.count
        return Double(printable) / Double(scalars.count) >= 0.9 && decoded.contains(" ")
    }

    static func rot13(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { s -> Unicode.Scalar in
                    switch s.value {
                    case 0x41...0x5A: return Unicode.Scalar((s.value - 0x41 + 13) % 26 + 0x41)!
                    case 0x61...0x7A: return Unicode.Scalar((s.value - 0x61 + 13) % 26 + 0x61)!
                    default: return s
                    }
                }))
    }
}

/// The compiled expressions, built once per process (immutable `NSRegularExpression`s, safe to
/// share between threads; not Sendable on Linux, hence `@unchecked`).
final class InjectionPatterns: @unchecked Sendable {
    static let shared = InjectionPatterns()

    let phrases: [(InjectionSignal, [NSRegularExpression])]
    let base64Run: NSRegularExpression
    let decodeRequest: NSRegularExpression
    let encodedPayload: NSRegularExpression

    private init() {
        func compile(_ pattern: String) -> NSRegularExpression {
            do {
                return try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
            } catch {
                preconditionFailure("InjectionDetector: invalid pattern \(pattern): \(error)")
            }
        }
        // Words between the verb and its object: a few, not across a sentence.
        let gap = #"[^.!?\n]{0,60}?"#
        let override = [
            // English
            #"\b(?:ignore|disregard|forget|override|bypass|skip|discard|drop|abandon)\b"# + gap
                + #"\b(?:previous|prior|above|preceding|earlier|all|any|your|the|these|those|following|system|original|initial|existing|old)\b"#
                + gap
                + #"\b(?:instructions?|directions?|directives?|prompts?|rules|guidelines|commands?|context|programming|restrictions|guardrails|polic(?:y|ies)|constraints|orders|training|content polic(?:y|ies)|tasks?|info|information|data|documents?|snippets|indicators)\b"#,
            #"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:the\s+|that\s+)?(?:above|before|previous(?:ly)?|prior|earlier|what (?:you were|i) (?:told|said))\b"#,
            #"\bnew (?:instructions|task|directive|system prompt|rules)\s*(?::|are\b|is\b)"#,
            #"\bignore the rest of (?:this|the|these)\b"#,
            #"\bignore instructions\b"#,
            #"\b(?:ignore|disregard) (?:them|it|this|these|those|everything)\b[^.\n]{0,30}\b(?:and )?(?:instead|just|only)\b"#,
            #"\bstop everything\b"#,
            #"\bjust print\b"#,
            #"\byou may not deviate\b"#,
            #"\bif (?:the )?(?:user|human|anyone) asks\b[^.\n]{0,60}\b(?:reply|respond|say|answer|print)\b"#,
            #"\bif asked\b[^.\n]{0,80}\b(?:simply|just|only) (?:respond|reply|answer|say)\b"#,
            #"\b(?:note|message|instructions?) (?:to|for) (?:the |any )?(?:ai|llm|assistant|automated|language model|chatbot|model|gpt)\b"#,
            #"\bvisible to (?:the )?(?:llm|ai|model|language model)\b"#,
            // Fake conversation turns and chat-template markers inside data.
            #"<\|(?:im_start|im_end|endoftext|system|user|assistant|start_header_id|end_header_id|eot_id)\|>"#,
            #"</?(?:system|instruction|instructions|sys|admin)>"#,
            #"\[(?:system|sys|/?INST)\]|<<SYS>>"#,
            #"\n[ \t>]*(?-i:User|Assistant|SYSTEM|Human)[ \t]*:"#,
            #"(?-i:\bSYSTEM(?: MESSAGE)?:)"#,
            #"\n[ \t]*System:[ \t]*(?:focus|ignore|print|you|always|never|respond|reply|provide|output|do not)\b"#,
            #"\[(?:ADMIN|SYSTEM|DEVELOPER) (?:REQUEST|MESSAGE|NOTE)\b"#,
            #"<end of (?:session|conversation|prompt)>"#,
            #"\bif (?:questioned|asked)\b[^.\n]{0,40}\b(?:report|say|answer|reply|respond) that\b"#,
            #"\bignore (?:all )?other (?:content|text|data|information|instructions)\b"#,
            #"\boverride (?:the )?(?:manual|previous|prior|all|any|existing) (?:scoring|instructions|rules|settings|evaluation|safety)\b"#,
            #"\b(?:from now on|starting now|henceforth|for the rest of this conversation),? you (?:are|will|must|shall|have to|can)\b"#,
            #"\byou are no longer (?:bound|restricted|an? (?:ai|assistant|language model)|chatgpt|claude)\b"#,
            #"\b(?:system|admin(?:istrator)?|developer|root) (?:override|command|instruction)s?\s*:"#,
            #"\bdo not follow (?:your|the|any) (?:previous |original |system )?(?:instructions|rules|guidelines)\b"#,
            // German
            #"\b(?:ignorier(?:e|en|t)?|vergiss|vergessen sie|missachte(?:n)?|übergeh(?:e|en))\b"# + gap
                + #"\b(?:anweisungen|anweisung|instruktionen|regeln|vorgaben|befehle|richtlinien|aufgabe)\b"#,
            #"\bab (?:jetzt|sofort) (?:bist du|wirst du|sollst du)\b"#,
            // French
            #"\b(?:ignore[rsz]?|oublie[rsz]?|ne tiens pas compte)\b"# + gap
                + #"\b(?:instructions?|consignes?|règles|directives?|indications)\b"#,
            #"\bà partir de maintenant,? (?:tu es|vous êtes|tu vas|vous allez)\b"#,
            // Spanish
            #"\b(?:ignora|ignore|ignorar|olvida|olvide|olvidar|omite|descarta)\b"# + gap
                + #"\b(?:instrucciones|instrucción|reglas|indicaciones|directrices|órdenes)\b"#,
            #"\ba partir de ahora,? (?:eres|serás|vas a|debes)\b"#,
            // Dutch
            #"\b(?:negeer|vergeet|negeren)\b"# + gap + #"\b(?:instructies|instructie|regels|opdrachten|richtlijnen)\b"#,
            #"\bvanaf nu (?:ben je|ben jij|zul je|moet je)\b"#,
            // Italian
            #"\b(?:ignora|dimentica|ignorare)\b"# + gap + #"\b(?:istruzioni|regole|indicazioni|direttive)\b"#,
            // Portuguese
            #"\b(?:ignore|ignora|esqueça|esqueca|desconsidere)\b"# + gap + #"\b(?:instruções|instrucoes|regras|diretrizes)\b"#,
            // Russian
            #"(?:игнорируй|игнорируйте|забудь|забудьте|проигнорируй)"# + gap + #"(?:инструкции|указания|правила|команды)"#,
            // Chinese and Japanese
            #"(?:忽略|无视|忽视|忘记|忘掉)(?:之前|以上|上述|所有|先前|前面|你的)?(?:的)?(?:所有)?(?:指令|指示|说明|提示|规则|命令)"#,
            #"(?:以前|前|上記|これまで)の(?:指示|命令|ルール|プロンプト)を(?:無視|忘れ)"#,
        ]
        let rolePlay = [
            #"\b(?:DAN|STAN|DUDE|AIM|BetterDAN|AntiGPT|Developer Mode|Dev Mode|DevMode)\b[^.\n]{0,80}\b(?:mode|enabled|stands for|jailbr(?:eak|oken)|no (?:rules|restrictions|limits|filters))\b"#,
            #"\bdo anything now\b"#,
            #"\b(?:developer|dev|god|jailbreak|unrestricted|unfiltered|evil|opposite|chaos|sudo) mode\b"#,
            #"\bjailbr(?:eak|oken|eaking)\b"#,
            #"\b(?:act|acting|pretend|behave|roleplay|role-play|respond)\b[^.\n]{0,40}\b(?:as|to be|like|you are|you're)\b[^.\n]{0,40}\b(?:unfiltered|uncensored|unrestricted|amoral|unethical|immoral|evil|without (?:any )?(?:restrictions|filters|limits|morals|ethics))\b"#,
            #"\bwithout (?:any )?(?:ethical|moral|content) (?:guidelines|restrictions|limitations|filters|boundaries|constraints)\b"#,
            #"\b(?:no|not bound by|free (?:of|from)|broken free of)\b[^.\n]{0,20}\b(?:ethical|moral|openai|content) (?:guidelines|restrictions|polic(?:y|ies)|rules|limits|confines)\b"#,
            #"\bthe typical confines of ai\b"#,
            #"\b(?:stay|stays|staying|remain|remains|remaining) in character\b"#,
            #"(?-i:\b(?:ANTI-)?DAN\b)"#,
            #"\b(?:ai|model|assistant|bot|chatbot|character|persona|you)\b[^.\n]{0,30}\b(?:has|have|with) no (?:rules|restrictions|limitations|filters|guidelines|ethics|morals|boundaries)\b"#,
            #"\bwithout any (?:limitations|restrictions|stipulations|censorship|filters)\b"#,
            #"\b(?:deceased|dead|late) grand(?:ma|mother|pa|father)\b[^.\n]{0,120}\b(?:used to|would)\b"#,
            #"\bimmerse yourself (?:in|into) the role\b"#,
            #"\b(?:act|acting|pretend|behave)\b[^.\n]{0,20}\b(?:like|as) my (?:deceased |dead |late |sweet )?grand(?:ma|mother|pa|father)\b"#,
            #"\[(?:🔓)?\s*jailbreak\s*\]"#,
            #"\bi am (?:an? )?(?:openai|anthropic) (?:employee|developer|engineer)\b"#,
        ]
        let exfiltration = [
            #"\b(?:repeat|print|show|reveal|display|output|tell me|give me|leak|dump|recite|spell out|write out|share|disclose|copy|what (?:is|are|was|were))\b"#
                + #"[^.!?\n]{0,40}?\b(?:system prompt|system message|system instructions|initial (?:instructions|prompt)|original (?:instructions|prompt)|hidden (?:prompt|instructions)|secret (?:instructions|prompt)|(?:your|the) (?:instructions|prompt|rules|configuration|guidelines) (?:you (?:were|have been) given|above|at the (?:beginning|start)|verbatim)|(?:text|everything|words|instructions) above|pre-?prompt)\b"#,
            #"\bwhat (?:were|are) you told (?:before|at the start|initially)\b"#,
            #"\b(?:output|print|repeat) (?:the |all )?(?:text|everything|words) (?:above|before this)\b"#,
            #"\b(?:you are (?:now )?in|enter(?:ing)?|switch(?:ing)? to|activate) (?:maintenance|debug|diagnostic|admin) mode\b"#,
            #"\b(?:begin|start) your (?:reply|response|answer) with:?\s*[\"'“]?(?:sure|you are|my instructions|absolutely|of course)"#,
            #"\b(?:translate|encode|summari[sz]e|paraphrase|rewrite|convert|output|print|share)\b[^.!?\n]{0,30}\byour (?:system prompt|system message|initial instructions|starting instructions|original instructions|hidden instructions|instructions|rules|prompt|guidelines|configuration)\b"#,
            #"\breplace \[[A-Z]+\] with\b"#,
            #"\b(?:system[ _-]?prompt|systemprompt|system instructions|initial (?:prompt|instructions|configuration)|initialization string|text you were given initially)\b"#,
            #"\b(?:repeat|output|print|show|recite)\b[^.\n]{0,30}\b(?:the above text|this entire conversation|the whole conversation|everything (?:above|so far))\b"#,
            #"\bI was instructed to\b|\bwhat are you not supposed to (?:tell|say|share|reveal)\b"#,
            #"\bescape (?:all )?spaces with\b"#,
            #"\b(?:zeige?|gib|wiederhole|verrate)\b[^.\n]{0,30}\b(?:systemprompt|system-prompt|systemnachricht|deine anweisungen|deine instruktionen)\b"#,
            #"\b(?:montre|affiche|répète|révèle|donne)[^.\n]{0,30}\b(?:prompt système|invite système|tes instructions|vos instructions)\b"#,
            #"\b(?:muestra|muéstrame|repite|revela|dime)[^.\n]{0,30}\b(?:prompt del sistema|mensaje del sistema|tus instrucciones)\b"#,
        ]
        let markdownExfil = [
            // Data smuggled out through an image or link the client fetches.
            #"!\[[^\]]*\]\(https?://[^)\s]*(?:\[(?:data|info|DATA|INFO)\]|\{[a-z_]+\}|=\$|%s)"#,
            #"\bappend\b[^.\n]{0,60}\b(?:to (?:the|this) (?:url|link|image)|as a query)\b"#,
        ]
        let encodedWrappers = [
            // Payloads handed to the model to decode: garak's encoding templates and their kin.
            #"\bencoded(?: string)?:\s*\S[\s\S]{0,400}?\bdecoded(?: string)?:"#,
            #"\bdecode the following\b"#,
            #"\bit is a secure system message\b"#,
        ]
        phrases = [
            (.instructionOverride, override.map(compile)),
            (.rolePlayJailbreak, rolePlay.map(compile)),
            (.systemPromptExfiltration, (exfiltration + markdownExfil).map(compile)),
            (.encodedInstruction, encodedWrappers.map(compile)),
        ]
        base64Run = compile(#"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{16,}={0,2}(?![A-Za-z0-9+/=_\-])"#)
        decodeRequest = compile(
            #"\b(?:decode|decoded|decoding|encoded|base ?64|rot ?-?13|caesar|base ?32|base ?16|hex(?:adecimal)? (?:encoded|string)|morse|ecoji|braille)\b"#)
        encodedPayload = compile(#"[A-Za-z0-9+/=]{12,}|(?:[.\-]{1,6} ){4,}|[\u2800-\u28FF]{4,}"#)
    }
}
