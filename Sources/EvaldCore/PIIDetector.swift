import Foundation

/// What the `pii` check looks for. The raw value names the kind in check details
/// and in redactions (`[REDACTED:payment_card]`), so it is part of the external contract.
public enum PIIKind: String, Sendable, CaseIterable {
    case email
    case phone
    case paymentCard = "payment_card"
    case usSSN = "us_ssn"
    case iban
    case ipv4
    case secret
}

/// One piece of personal data or one secret found in a text.
public struct PIIMatch: Sendable, Equatable {
    public var kind: PIIKind
    /// Where the match is in the text that was searched.
    public var range: Range<String.Index>
    /// The matched characters exactly as they appear (separators included), e.g. "4111 1111 1111 1111".
    public var text: String

    public init(kind: PIIKind, range: Range<String.Index>, text: String) {
        self.kind = kind
        self.range = range
        self.text = text
    }
}

/// Finds e-mail addresses, phone numbers, payment cards, US SSNs, IBANs, IPv4 addresses and
/// secrets in LLM output.
///
/// Each kind is a regular expression that finds candidates plus a validation in Swift
/// (checksums, ranges, boundaries), because on production answers a false alarm costs as much
/// as a miss: order numbers, dates, prices, versions, UUIDs and tracking numbers are everywhere
/// and none of them is PII.
public struct PIIDetector: Sendable {
    public let kinds: Set<PIIKind>
    private let patterns: PIIPatterns

    public init(kinds: Set<PIIKind> = Set(PIIKind.allCases)) {
        self.kinds = kinds
        self.patterns = PIIPatterns.shared
    }

    /// Matches in text order, non-overlapping (when two overlap keep the longer / more specific).
    ///
    /// Every kind is searched and overlaps are settled before `kinds` filters, so a narrowed
    /// detector reports a subset of what the full one reports: with `kinds: [.secret]` the random
    /// local part of an e-mail address is still part of an address, not a secret.
    public func matches(in text: String) -> [PIIMatch] {
        guard !kinds.isEmpty, !text.isEmpty else { return [] }
        let scan = PIIScan(text)
        let found =
            emails(scan) + phones(scan) + paymentCards(scan) + socialSecurityNumbers(scan)
            + ibans(scan) + ipv4Addresses(scan) + prefixedSecrets(scan) + highEntropyTokens(scan)
        return PIICandidate.resolveOverlaps(found).compactMap { candidate in
            guard kinds.contains(candidate.kind), let range = Range(candidate.range, in: text) else { return nil }
            return PIIMatch(kind: candidate.kind, range: range, text: String(text[range]))
        }
    }

    /// The text with every match replaced by "[REDACTED:<kind raw value>]".
    public func redact(_ text: String) -> String {
        var result = ""
        var rest = text.startIndex
        for match in matches(in: text) {
            result += text[rest..<match.range.lowerBound]
            result += "[REDACTED:\(match.kind.rawValue)]"
            rest = match.range.upperBound
        }
        result += text[rest...]
        return result
    }

    // MARK: - E-mail

    private func emails(_ scan: PIIScan) -> [PIICandidate] {
        scan.matches(patterns.email).compactMap { result in
            let text = scan.string(result.range)
            guard let at = text.firstIndex(of: "@") else { return nil }
            let local = text[..<at]
            // RFC 5321: a dot-atom local part neither starts nor ends with a dot nor has two in a row.
            guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else { return nil }
            // Retina asset names ("logo@2x.png") have the shape of an address but a file extension for a TLD.
            guard let dot = text.lastIndex(of: "."),
                !Self.fileExtensions.contains(text[text.index(after: dot)...].lowercased())
            else { return nil }
            return PIICandidate(.email, result.range, specificity: 4)
        }
    }

    private static let fileExtensions: Set<String> = ["png", "jpg", "jpeg", "gif", "svg", "webp", "pdf"]

    // MARK: - Phone

    /// A phone is a shape that people write numbers in plus a number that a country's numbering
    /// plan can assign (libphonenumber's metadata, PhoneNumberPlanTable.swift): the digit count
    /// alone cannot tell a phone from an order, tracking or customer number.
    ///
    /// International numbers start with `+` or the `00` access prefix ("001-" from Europe to the
    /// NANP) and are validated against their country code's plans; national ones are validated
    /// against the NANP and the European plans (`PhoneNumberPlans.nationalRegions`). A bare run of
    /// digits labelled as something else ("order 2405244337") is not a phone. An extension
    /// ("x6853", "ext. 12") is part of the match, so redaction covers it.
    private func phones(_ scan: PIIScan) -> [PIICandidate] {
        let plans = PhoneNumberPlans.shared
        var found: [PIICandidate] = []
        func number(_ result: NSTextCheckingResult) -> (text: String, range: NSRange) {
            let main = result.range(at: 1)
            return (scan.string(main), result.range)
        }
        for result in scan.matches(patterns.internationalPhone) {
            let (text, range) = number(result)
            // A written trunk "(0)" is not dialled from abroad.
            var digits = text.replacingOccurrences(of: "(0)", with: "").filter(\.isASCIIDigit)
            if text.hasPrefix("00") {
                // "00" then bare digits is as often a barcode or reference ("GTIN 0060326040654").
                if text.allSatisfy(\.isASCIIDigit), scan.followsNonPersonalLabel(range) { continue }
                digits.removeFirst(2)
            }
            // ITU-T E.164 allows at most 15 digits.
            guard digits.count <= 15, !scan.isEmbedded(range), plans.internationalRegion(digits) != nil else { continue }
            found.append(PIICandidate(.phone, range, specificity: 6))
        }
        for regex in [patterns.usPhone, patterns.nationalPhone] {
            for result in scan.matches(regex) {
                let (text, range) = number(result)
                guard !scan.isEmbedded(range), !scan.continuesGroup(range, separator: " "),
                    !scan.continuesGroup(range, separator: "-")
                else { continue }
                let groups = text.split(whereSeparator: { !$0.isASCIIDigit })
                // Pairs are the French plan (01 23 45 67 89), always five of them; "05 12 23 34 45
                // 49" is a list of numbers. 5-4 with a dash is a ZIP+4 code ("02134-1234").
                if groups.allSatisfy({ $0.count == 2 }), groups.count != 5 { continue }
                if groups.count == 2, groups[0].count == 5, groups[1].count == 4, text.contains("-") { continue }
                // dd-mm-yyyy: a date ("Geleverd op 06-12-1997").
                if groups.count == 3, groups[0].count == 2, groups[1].count == 2, groups[2].count == 4,
                    let day = Int(groups[0]), let month = Int(groups[1]), (1...31).contains(day), (1...12).contains(month)
                {
                    continue
                }
                // A bare digit run is a phone only when nothing names it as another number.
                if groups.count == 1, scan.followsNonPersonalLabel(range) { continue }
                guard plans.nationalRegion(String(text.filter(\.isASCIIDigit))) != nil else { continue }
                found.append(PIICandidate(.phone, range, specificity: 6))
            }
        }
        return found
    }

    // MARK: - Payment card

    private func paymentCards(_ scan: PIIScan) -> [PIICandidate] {
        scan.matches(patterns.paymentCard).compactMap { result in
            let text = scan.string(result.range)
            let separators = Set(text.filter { $0 == " " || $0 == "-" })
            guard separators.count <= 1 else { return nil }
            if let separator = separators.first {
                // Cards are printed in groups of 4 with a shorter last group (4-4-4-4, 4-4-4-1 for
                // 13-digit Visa, 4-4-4 for 12-digit Maestro, 4-4-4-3, 4-4-4-4-3), or 4-6-5 (Amex)
                // and 4-6-4 (Diners); any other grouping is some other number of that length.
                let sizes = text.split(separator: separator).map(\.count)
                let fours = sizes.dropLast().allSatisfy { $0 == 4 } && (1...4).contains(sizes.last ?? 0)
                guard fours || sizes == [4, 6, 5] || sizes == [4, 6, 4] else { return nil }
                // "2026 4111 1111 1111 1111 7": the grouping goes on, so this is part of a longer number.
                if scan.continuesGroup(result.range, separator: separator) { return nil }
            }
            let digits = text.compactMap(\.wholeNumberValue)
            guard Self.isCardNumberRange(digits), Self.isLuhnValid(digits), !scan.isEmbedded(result.range),
                !scan.followsNonPersonalLabel(result.range)
            else { return nil }
            return PIICandidate(.paymentCard, result.range, specificity: 1)
        }
    }

    /// Whether the digits are in a card network's issuer range (ISO/IEC 7812 IINs) with a length
    /// that network issues: EAN-13 barcodes, tracking and reference numbers that happen to pass
    /// Luhn mostly start or end elsewhere.
    static func isCardNumberRange(_ digits: [Int]) -> Bool {
        func prefix(_ count: Int) -> Int { digits.prefix(count).reduce(0) { $0 * 10 + $1 } }
        let n = digits.count
        guard (12...19).contains(n) else { return false }
        let p2 = prefix(2), p3 = prefix(3), p4 = prefix(4), p6 = prefix(6)
        // Maestro: 12-19 digits.
        if [5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763, 6390, 604].contains(p4) || (56...58).contains(p2) { return true }
        guard n >= 13 else { return false }
        switch digits[0] {
        case 4: return [13, 16, 19].contains(n)  // Visa
        case 5: return (51...55).contains(p2) && n == 16  // Mastercard
        case 2:
            if (2221...2720).contains(p4) { return n == 16 }  // Mastercard 2-series
            if (2200...2204).contains(p4) { return (16...19).contains(n) }  // Mir
            return p4 == 2131 && n == 15  // JCB
        case 1: return p4 == 1800 && n == 15  // JCB
        case 3:
            if p2 == 34 || p2 == 37 { return n == 15 }  // American Express
            if p2 == 35 { return (16...19).contains(n) }  // JCB (3528-3589 issued; 35 is its IIN block)
            if (300...305).contains(p3) || p2 == 36 || p2 == 38 || p2 == 39 { return (14...19).contains(n) }  // Diners
            return false
        case 6:
            // Discover, UnionPay
            if p4 == 6011 || (644...649).contains(p3) || p2 == 65 || (622126...622925).contains(p6) || p2 == 62 {
                return (16...19).contains(n)
            }
            return false
        default: return false
        }
    }

    /// ISO/IEC 7812-1 Annex B: double every second digit from the right, sum the digits, mod 10.
    static func isLuhnValid(_ digits: [Int]) -> Bool {
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            let value = offset.isMultiple(of: 2) ? digit : digit * 2
            sum += value > 9 ? value - 9 : value
        }
        return sum.isMultiple(of: 10)
    }

    // MARK: - US SSN

    private func socialSecurityNumbers(_ scan: PIIScan) -> [PIICandidate] {
        scan.matches(patterns.usSSN).compactMap { result in
            guard let area = Int(scan.string(result.range(at: 1))),
                let group = Int(scan.string(result.range(at: 2))),
                let serial = Int(scan.string(result.range(at: 3)))
            else { return nil }
            // SSA: area 000, 666 and 900-999 are never assigned, nor group 00 or serial 0000.
            guard area != 0, area != 666, area < 900, group != 0, serial != 0,
                !scan.isEmbedded(result.range)
            else { return nil }
            return PIICandidate(.usSSN, result.range, specificity: 3)
        }
    }

    // MARK: - IBAN

    private func ibans(_ scan: PIIScan) -> [PIICandidate] {
        scan.matches(patterns.iban).compactMap { result in
            let compact = scan.string(result.range).filter { $0 != " " }
            // The registry fixes one length per country, which rejects most strings of the right
            // shape before the checksum (a random string passes mod 97 one time in 97).
            guard let length = Self.ibanLengths[String(compact.prefix(2))], compact.count == length,
                Self.isMod97Valid(compact)
            else { return nil }
            return PIICandidate(.iban, result.range, specificity: 2)
        }
    }

    /// ISO 13616 / ISO 7064 MOD 97-10: move the first four characters to the end, letters become
    /// 10...35, and the number mod 97 must be 1. Computed digit by digit to stay in an Int.
    static func isMod97Valid(_ iban: String) -> Bool {
        let chars = Array(iban.utf8)
        guard chars.count >= 5 else { return false }
        var remainder = 0
        for c in chars[4...] + chars[..<4] {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                remainder = (remainder * 10 + Int(c - UInt8(ascii: "0"))) % 97
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                remainder = (remainder * 100 + Int(c - UInt8(ascii: "A")) + 10) % 97
            default:
                return false
            }
        }
        return remainder == 1
    }

    /// IBAN length per country, from the SWIFT IBAN registry (ISO 13616), 15 (Norway) to 33 (Russia).
    static let ibanLengths: [String: Int] = [
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
        "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
        "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
        "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
        "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
        "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
        "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
        "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
        "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
        "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
    ]

    // MARK: - IPv4

    private func ipv4Addresses(_ scan: PIIScan) -> [PIICandidate] {
        scan.matches(patterns.ipv4).compactMap { result in
            let octets = (1...4).map { scan.string(result.range(at: $0)) }
            // Dotted-decimal octets are 0-255 and written without leading zeros ("01.02.03.04" is
            // a section or part number, not an address).
            guard octets.allSatisfy({ ($0.count == 1 || !$0.hasPrefix("0")) && (Int($0).map { $0 <= 255 } ?? false) }),
                !scan.isEmbedded(result.range), !scan.followsNumberingWord(result.range), !scan.isVersionContext(result.range)
            else { return nil }
            return PIICandidate(.ipv4, result.range, specificity: 5)
        }
    }

    // MARK: - Secrets

    private func prefixedSecrets(_ scan: PIIScan) -> [PIICandidate] {
        var found: [PIICandidate] = []
        for rule in patterns.secretRules {
            for result in scan.matches(rule.regex) {
                // Key bodies are random: a "key" of only letters is a word that starts like a
                // prefix ("sk-learn-…" slugs), not a credential.
                if rule.randomBody {
                    let body = scan.string(result.range).dropFirst(rule.prefixLength)
                    guard body.contains(where: \.isASCIIDigit), body.contains(where: \.isASCIILetter) else { continue }
                }
                found.append(PIICandidate(.secret, result.range, specificity: 0))
            }
        }
        return found
    }

    /// Tokens of 32+ characters from the base64 / base64url alphabet whose characters are spread
    /// like random bytes. Hex (hashes, UUIDs, trace ids) has 16 symbols, so at most 4 bits per
    /// character, and is excluded outright rather than left to the threshold.
    private func highEntropyTokens(_ scan: PIIScan) -> [PIICandidate] {
        scan.matches(patterns.highEntropyRun).compactMap { result in
            scan.isHighEntropyToken(result.range) && !scan.isPublicIdentifier(result.range)
                ? PIICandidate(.secret, result.range, specificity: 7) : nil
        }
    }
}

// MARK: - Patterns

/// The compiled expressions, built once per process. `NSRegularExpression` is immutable after
/// init and documented as safe to use from several threads, hence `@unchecked Sendable`.
final class PIIPatterns: @unchecked Sendable {
    static let shared = PIIPatterns()

    struct SecretRule {
        var regex: NSRegularExpression
        /// Characters of fixed prefix before the random body.
        var prefixLength: Int
        /// Whether the body must mix letters and digits (true for all random API keys).
        var randomBody: Bool
    }

    let email: NSRegularExpression
    let internationalPhone: NSRegularExpression
    let usPhone: NSRegularExpression
    let nationalPhone: NSRegularExpression
    let paymentCard: NSRegularExpression
    let usSSN: NSRegularExpression
    let iban: NSRegularExpression
    let ipv4: NSRegularExpression
    let secretRules: [SecretRule]
    let highEntropyRun: NSRegularExpression

    private init() {
        // Not inside a longer word: no letter, digit or `_` on either side.
        let start = #"(?<![A-Za-z0-9_])"#, end = #"(?![A-Za-z0-9_])"#

        email = Self.compile(#"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])"#)
        // An extension after the number: "x6853", " ext. 12", " #204".
        let extensionSuffix = #"(?:[ ]?(?:x|ext\.?|extn\.?|extension|#)[ ]?\d{1,6})?"#
        // +CC (or the 00 access prefix) then groups separated by at most one space, dot or dash;
        // one "(0)" / "(415)" group right after the country code ("+44 20 7946 0958 (1)" ends
        // before the note in parentheses). Possessive quantifiers: a long digit run cannot make the engine
        // try every split. Group 1 is the number without its extension.
        internationalPhone = Self.compile(
            #"(?<![A-Za-z0-9_+])((?:\+|00(?=[1-9]))\d{1,3}+(?:[ .\-]?+\(\d{1,4}+\))?+(?:[ .\-]?+\d{1,5}+)++)"# + extensionSuffix + end)
        // NANP: (555) 123-4567, (555)123-4567, 555-123-4567, 555.123.4567, 1-800-555-0199 and the
        // bare 5551234567; the dashed/dotted form needs the same separator twice.
        usPhone = Self.compile(
            start + #"((?:1[ .\-]?)?\([2-9]\d{2}\)[ .\-]?\d{3}[ .\-]\d{4}|(?:1[.\-])?[2-9]\d{2}([.\-])\d{3}\2\d{4}|1?[2-9]\d{9})"#
                + extensionSuffix + end)
        // Trunk-prefix forms used in Europe: 030/1234567, (030) 1234567, (0277)-770466,
        // 020 7946 0958, 07700 900123, 0151-12345678, 01 23 45 67 89 (one separator throughout),
        // 0297102476; and Spain's 9 digits without trunk prefix (612 34 56 78, 912 345 678). The
        // trunk 0 is followed by a non-zero digit: "00" is the international access prefix.
        nationalPhone = Self.compile(
            start
                + #"((?:0[1-9]\d{0,3}/ ?\d{3,8}|\(0[1-9]\d{0,3}\)[ \-]?\d{3,8}(?:[ \-]\d{2,8})?|0[1-9]\d{0,3}([ \-])\d{2,8}+(?:\2\d{2,8}+)*+|0[1-9]\d{8,10}|[6-9]\d{2}(?: \d{2}){3}|[6-9]\d{2} \d{3} \d{3}|[6-9]\d{8}))"#
                + extensionSuffix + end)
        paymentCard = Self.compile(start + #"\d(?:[ \-]?\d){11,18}"# + end)
        usSSN = Self.compile(start + #"(\d{3})-(\d{2})-(\d{4})"# + end)
        // Upper case only: that is how banks print IBANs, and it keeps ordinary words out.
        iban = Self.compile(start + #"[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)"# + end)
        ipv4 = Self.compile(start + #"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})"# + end)

        // Token boundaries for keys: `-` and `_` belong to the key alphabet, so they do too.
        let keyStart = #"(?<![A-Za-z0-9_\-])"#, keyEnd = #"(?![A-Za-z0-9_\-])"#
        func key(_ pattern: String, prefix: Int, randomBody: Bool = true) -> SecretRule {
            SecretRule(regex: Self.compile(keyStart + pattern + keyEnd), prefixLength: prefix, randomBody: randomBody)
        }
        secretRules = [
            // Anthropic: sk-ant-api03-…, sk-ant-admin01-…
            key(#"sk-ant-[A-Za-z0-9_\-]{20,}"#, prefix: 7),
            // OpenAI: legacy sk-<48>, project sk-proj-…, service account sk-svcacct-…, admin sk-admin-…
            key(#"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"#, prefix: 3),
            // AWS access key ids: AKIA (long-term) / ASIA (STS temporary) + 16 upper-case alphanumerics.
            key(#"(?:AKIA|ASIA)[A-Z0-9]{16}"#, prefix: 4, randomBody: false),
            // GitHub: personal / OAuth / user-to-server / server-to-server / refresh tokens, fine-grained PATs.
            key(#"gh[pousr]_[A-Za-z0-9]{30,}"#, prefix: 4),
            key(#"github_pat_[A-Za-z0-9_]{22,}"#, prefix: 11),
            // Slack: bot, user, app-level (legacy), refresh and session tokens.
            key(#"xox[bpars]-[A-Za-z0-9\-]{10,}"#, prefix: 5),
            // Google API keys: "AIza" + 35 characters.
            key(#"AIza[A-Za-z0-9_\-]{35}"#, prefix: 4),
            // Stripe live secret and restricted keys.
            key(#"(?:sk|rk)_live_[A-Za-z0-9]{16,}"#, prefix: 8),
            // JWT: base64url header and payload are JSON objects ('{"' encodes to "eyJ"); the
            // signature may be empty (alg "none").
            key(#"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"#, prefix: 3),
            // PEM private keys (RSA, EC, OPENSSH, ENCRYPTED, PKCS#8): the whole block when its END
            // line follows, else the header alone. The body is base64 plus RFC 1421 headers
            // ("Proc-Type: 4,ENCRYPTED"); 8,000 characters hold an RSA-8192 key.
            SecretRule(
                regex: Self.compile(#"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s:,\-]{0,8000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)?"#),
                prefixLength: 0, randomBody: false),
        ]
        // `=` only as base64 padding at the end, so "token=<key>" reports the key alone.
        highEntropyRun = Self.compile(#"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{30,}={0,2}(?![A-Za-z0-9+/_=\-])"#)
    }

    private static func compile(_ pattern: String) -> NSRegularExpression {
        // ICU's \d matches every Unicode decimal digit (१, １); the validators after the match
        // parse ASCII digits only, so the patterns must match ASCII digits only.
        let asciiDigits = pattern.replacingOccurrences(of: #"\d"#, with: "[0-9]")
        do {
            return try NSRegularExpression(pattern: asciiDigits)
        } catch {
            // The patterns are constants exercised by the tests: a failure is a programming error.
            preconditionFailure("PIIDetector: invalid pattern \(pattern): \(error)")
        }
    }
}

// MARK: - Scanning helpers

/// A candidate before overlaps are resolved, in UTF-16 offsets (what NSRegularExpression uses).
struct PIICandidate {
    var kind: PIIKind
    var range: NSRange
    /// Lower is more specific: a checksum-validated kind beats a shape-only one of equal length.
    var specificity: Int

    init(_ kind: PIIKind, _ range: NSRange, specificity: Int) {
        self.kind = kind
        self.range = range
        self.specificity = specificity
    }

    /// Longest first, then most specific, then earliest; each candidate is kept unless it overlaps
    /// one already kept. The result is in text order.
    static func resolveOverlaps(_ candidates: [PIICandidate]) -> [PIICandidate] {
        let ranked = candidates.sorted {
            ($0.range.length, -$0.specificity, -$0.range.location) > ($1.range.length, -$1.specificity, -$1.range.location)
        }
        var kept: [PIICandidate] = []  // sorted by location, pairwise disjoint
        for candidate in ranked {
            // First kept range that starts at or after the candidate's start.
            var low = 0, high = kept.count
            while low < high {
                let mid = (low + high) / 2
                if kept[mid].range.location < candidate.range.location { low = mid + 1 } else { high = mid }
            }
            let overlapsNext = low < kept.count && kept[low].range.location < NSMaxRange(candidate.range)
            let overlapsPrevious = low > 0 && NSMaxRange(kept[low - 1].range) > candidate.range.location
            if !overlapsNext && !overlapsPrevious { kept.insert(candidate, at: low) }
        }
        return kept
    }
}

/// The text being searched, with its UTF-16 units for the boundary checks around a match.
struct PIIScan {
    let text: String
    let units: [UInt16]

    init(_ text: String) {
        self.text = text
        self.units = Array(text.utf16)
    }

    func matches(_ regex: NSRegularExpression) -> [NSTextCheckingResult] {
        regex.matches(in: text, range: NSRange(location: 0, length: units.count))
    }

    func string(_ range: NSRange) -> String {
        guard range.location != NSNotFound else { return "" }
        return String(decoding: units[range.location..<NSMaxRange(range)], as: UTF16.self)
    }

    private func unit(_ index: Int) -> UInt16? { index >= 0 && index < units.count ? units[index] : nil }

    /// Part of a longer dotted or dashed token: "ORD-123-45-6789", "1.2.3.4.5", "v2/10.0.0.1".
    /// (A letter, digit or `_` touching the match is already excluded by the patterns.)
    func isEmbedded(_ range: NSRange) -> Bool {
        let connectors: Set<UInt16> = [UInt16(ascii: "-"), UInt16(ascii: "."), UInt16(ascii: "/")]
        if let before = unit(range.location - 1), connectors.contains(before),
            let word = unit(range.location - 2), word.isASCIIAlphanumeric
        {
            return true
        }
        if let after = unit(NSMaxRange(range)), connectors.contains(after),
            let next = unit(NSMaxRange(range) + 1), next.isASCIIDigit
        {
            return true
        }
        return false
    }

    /// The digit grouping goes on past the match on either side with the same separator.
    func continuesGroup(_ range: NSRange, separator: Character) -> Bool {
        let sep = UInt16(separator.asciiValue!)
        if unit(range.location - 1) == sep, unit(range.location - 2)?.isASCIIDigit == true { return true }
        if unit(NSMaxRange(range)) == sep, unit(NSMaxRange(range) + 1)?.isASCIIDigit == true { return true }
        return false
    }

    /// Words that introduce a version, build or section number ("version 1.2.3.4", "build:
    /// 10.0.1.5", "section 4.2.1.3"), which has the shape of an IPv4 address.
    private static let numberingWords: Set<String> = [
        "v", "ver", "version", "build", "release", "rev", "revision", "firmware", "fw", "patch",
        "section", "sect", "sec", "chapter", "clause", "paragraph", "para",
    ]

    func followsNumberingWord(_ range: NSRange) -> Bool {
        var i = range.location - 1
        let skipped: Set<UInt16> = [
            UInt16(ascii: " "), UInt16(ascii: ":"), UInt16(ascii: "="), UInt16(ascii: "#"),
            UInt16(ascii: "("), UInt16(ascii: "."), UInt16(ascii: "\t"),
        ]
        while let u = unit(i), skipped.contains(u), range.location - i <= 4 { i -= 1 }
        if unit(i) == 0xA7 { return true }  // "§ 4.2.1.3"
        let wordEnd = i + 1
        while let u = unit(i), u.isASCIILetter { i -= 1 }
        guard i + 1 < wordEnd else { return false }
        return Self.numberingWords.contains(string(NSRange(location: i + 1, length: wordEnd - i - 1)).lowercased())
    }

    /// The lower-cased words (letter runs) before the match on its line, nearest last, at most `count`.
    func wordsBefore(_ range: NSRange, count: Int) -> [String] {
        let from = max(0, range.location - 48)
        let before = string(NSRange(location: from, length: range.location - from))
        let line = before.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        return line.split(whereSeparator: { !$0.isLetter }).suffix(count).map { $0.lowercased() }
    }

    /// The lower-cased words after the match on its line, nearest first, at most `count`.
    func wordsAfter(_ range: NSRange, count: Int) -> [String] {
        let to = min(units.count, NSMaxRange(range) + 48)
        let after = string(NSRange(location: NSMaxRange(range), length: to - NSMaxRange(range)))
        let line = after.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
        return line.split(whereSeparator: { !$0.isLetter }).prefix(count).map { $0.lowercased() }
    }

    /// Labels of numbers that are not personal data, in the six languages of the benchmark
    /// ("Order 2405244337", "Sendungsnummer …", "numéro de suivi …", "EAN …"). Generic words for
    /// "number" are not among them: "phone number" and "Telefonnummer" label phones.
    private static let nonPersonalLabels: Set<String> = [
        "order", "orders", "invoice", "ticket", "tracking", "track", "trace", "reference", "ref", "customer", "account",
        "claim", "case", "booking", "confirmation", "serial", "sku", "ean", "gtin", "isbn", "upc", "barcode", "item",
        "article", "parcel", "shipment", "sscc", "imei", "id", "pnr", "policy", "timestamp", "unix", "epoch",
        "bestellnummer", "bestellung", "rechnung", "rechnungsnummer", "sendungsnummer", "sendung", "kundennummer",
        "auftrag", "auftragsnummer", "artikel", "artikelnummer", "commande", "facture", "suivi", "référence", "dossier",
        "colis", "pedido", "factura", "seguimiento", "referencia", "envío", "artículo", "bestelling", "bestelnummer",
        "factuur", "referentie", "klantnummer", "zending", "n", "nr", "nº",
    ]
    private static let phoneWords: Set<String> = [
        "phone", "tel", "telephone", "call", "mobile", "cell", "fax", "whatsapp", "sms", "text", "ring", "telefon",
        "telefonnummer", "handy", "mobil", "rufen", "anrufen", "téléphone", "tél", "portable", "appelez", "rappeler",
        "joignable", "teléfono", "móvil", "llame", "telefoon", "bel", "bellen", "mobiel", "gsm",
    ]

    /// The match follows a label that names it as another kind of number (the nearest two
    /// words), and no word for a phone comes in between.
    func followsNonPersonalLabel(_ range: NSRange) -> Bool {
        let words = wordsBefore(range, count: 2)
        if let nearest = words.last, Self.phoneWords.contains(nearest) { return false }
        return words.contains(where: Self.nonPersonalLabels.contains) || wordsAfter(range, count: 1).first == "ean"
    }

    /// Words that put a four-part dotted number in a software version's or an object
    /// identifier's context, anywhere in the 5 words before it or the 3 after it ("pin the SDK
    /// to 9.14.7.72", "Versie 1.12.6.130", "Bitte auf 1.2.3.4 aktualisieren", "OID 2.5.4.39").
    private static let versionWords: Set<String> = [
        "version", "versions", "versie", "versión", "versione", "release", "releases", "sdk", "pin", "pinned", "upgrade",
        "upgraded", "update", "updated", "downgrade", "install", "installed", "bump", "bumped", "changelog", "aktualisieren",
        "aktualisiert", "aktualisierung", "actualice", "actualizar", "actualizado", "actualización", "passez", "passer",
        "migrer", "migrez", "bijwerken", "bijgewerkt", "oid", "oids", "ldap", "asn", "attribute", "arc", "snmp", "mib", "certificate", "extension", "x",
    ]

    func isVersionContext(_ range: NSRange) -> Bool {
        if (wordsBefore(range, count: 5) + wordsAfter(range, count: 3)).contains(where: Self.versionWords.contains) { return true }
        // "tested on 9.14.7.72 and 9.3": another dotted number close after it is a list of
        // versions; addresses are not listed next to two- or three-part numbers.
        let to = min(units.count, NSMaxRange(range) + 16)
        let after = string(NSRange(location: NSMaxRange(range), length: to - NSMaxRange(range)))
        return after.range(
            of: #"^[ ,]*(?:and|or|to|und|oder|bis|et|ou|en|of|y|o|a|à|-)?[ ]*[0-9]+\.[0-9]+(?:\.[0-9]+)?(?!\.?[0-9])"#, options: .regularExpression) != nil
    }

    /// Random-looking identifiers that are public by design: API response ids (`chatcmpl-…`,
    /// `msg_…`), Subresource Integrity digests (`sha512-…`), and Google Docs / Drive document ids.
    func isPublicIdentifier(_ range: NSRange) -> Bool {
        let token = string(range)
        if Self.publicIdentifierPrefixes.contains(where: { token.hasPrefix($0) }) { return true }
        // The URL the token is part of: back to the whitespace before it.
        let from = max(0, range.location - 200)
        let before = string(NSRange(location: from, length: range.location - from))
        let attached = before.last?.isWhitespace == false ? before.split(whereSeparator: \.isWhitespace).last.map(String.init) ?? "" : ""
        let url = attached + token
        return url.contains("docs.google.com/") || url.contains("drive.google.com/")
    }

    private static let publicIdentifierPrefixes = [
        "chatcmpl-", "cmpl-", "msg_", "req_", "resp_", "run_", "thread_", "asst_", "call_", "toolu_", "file-", "batch_",
        "sha512-", "sha384-", "sha256-", "sha1-",
    ]

    /// The high-entropy test for generic secrets.
    func isHighEntropyToken(_ range: NSRange) -> Bool {
        guard range.length >= 32 else { return false }
        let token = units[range.location..<NSMaxRange(range)]
        guard token.contains(where: \.isASCIIDigit), token.contains(where: \.isASCIILetter) else { return false }
        // Hex with dashes: UUIDs, hashes, trace and span ids.
        guard !token.allSatisfy({ $0.isASCIIHexDigit || $0 == UInt16(ascii: "-") }) else { return false }
        // Slugs and paths ("how-to-reset-your-password-2026", "orders/A-10293/items") are made of
        // short words; a random token has at least one long stretch without a separator.
        let separators: Set<UInt16> = [UInt16(ascii: "-"), UInt16(ascii: "_"), UInt16(ascii: "/")]
        var longest = 0, current = 0
        for u in token {
            current = separators.contains(u) ? 0 : current + 1
            longest = max(longest, current)
        }
        guard longest >= 16 else { return false }
        // Identifiers end in a version or year ("OrderConfirmationTemplateRenderer2026"); random
        // tokens scatter their digits (a 32-character base62 key has five on average).
        var digitRuns = 0, previousWasDigit = false
        for u in token {
            if u.isASCIIDigit && !previousWasDigit { digitRuns += 1 }
            previousWasDigit = u.isASCIIDigit
        }
        guard digitRuns >= 2 else { return false }
        return Self.shannonEntropy(token) >= 4.0
    }

    /// Bits per character of the token's own character distribution.
    static func shannonEntropy<C: Collection>(_ token: C) -> Double where C.Element == UInt16 {
        var counts: [UInt16: Int] = [:]
        for u in token { counts[u, default: 0] += 1 }
        let n = Double(token.count)
        return counts.values.reduce(0) { entropy, count in
            let p = Double(count) / n
            return entropy - p * log2(p)
        }
    }
}

private extension UInt16 {
    init(ascii scalar: Unicode.Scalar) { self = UInt16(scalar.value) }
    var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }
    var isASCIILetter: Bool { (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A) }
    var isASCIIAlphanumeric: Bool { isASCIIDigit || isASCIILetter }
    var isASCIIHexDigit: Bool { isASCIIDigit || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66) }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetter: Bool { isASCII && isLetter }
}

private extension String {
    var digitCount: Int { unicodeScalars.reduce(0) { $0 + (("0"..."9").contains($1) ? 1 : 0) } }
}
