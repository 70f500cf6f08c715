import Foundation

/// One region's telephone numbering plan, as libphonenumber's metadata describes it: which
/// national significant numbers (the digits after the country code, without trunk prefix) can
/// be assigned there. The table is generated (PhoneNumberPlanTable.swift).
struct PhoneNumberPlan: Sendable {
    var region: String
    var countryCode: Int
    /// The trunk prefix dialled before a national number at home ("0" in most of Europe, "1" in
    /// the NANP), or nil where there is none (Spain, Italy).
    var nationalPrefix: String?
    var lengths: [Int]
    var pattern: String

    init(_ region: String, _ countryCode: Int, _ nationalPrefix: String?, _ lengths: [Int], _ pattern: String) {
        self.region = region
        self.countryCode = countryCode
        self.nationalPrefix = nationalPrefix
        self.lengths = lengths
        self.pattern = pattern
    }
}

/// Validates digit strings against the plans: what a number needs to be reported as a phone.
/// Compiled once per process; `NSRegularExpression` is immutable after init and safe to share
/// between threads, hence `@unchecked Sendable` (it is not Sendable on Linux).
final class PhoneNumberPlans: @unchecked Sendable {
    static let shared = PhoneNumberPlans()

    /// Regions whose national forms (without "+" and country code) are recognised: the NANP
    /// and the European plans of the languages evald's look-alike rules know. A national number
    /// of any other country is recognised when written internationally.
    static let nationalRegions = ["US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "ES"]

    private struct Compiled {
        var plan: PhoneNumberPlan
        var regex: NSRegularExpression
        func accepts(_ nsn: String) -> Bool {
            guard plan.lengths.contains(nsn.utf8.count) else { return false }
            return regex.firstMatch(in: nsn, range: NSRange(location: 0, length: nsn.utf16.count)) != nil
        }
    }

    private let byCountryCode: [Int: [Compiled]]
    private let byRegion: [String: Compiled]

    private init() {
        var byCountryCode: [Int: [Compiled]] = [:]
        var byRegion: [String: Compiled] = [:]
        for plan in PhoneNumberPlan.table {
            let pattern = "^(?:" + plan.pattern.replacingOccurrences(of: #"\d"#, with: "[0-9]") + ")$"
            guard let regex = try? NSRegularExpression(pattern: pattern) else {
                preconditionFailure("PhoneNumberPlans: the generated pattern of \(plan.region) does not compile")
            }
            let compiled = Compiled(plan: plan, regex: regex)
            byCountryCode[plan.countryCode, default: []].append(compiled)
            byRegion[plan.region] = compiled
        }
        self.byCountryCode = byCountryCode
        self.byRegion = byRegion
    }

    /// `digits` follow an international prefix ("+" or "00"): a country code of 1-3 digits, then a
    /// national significant number valid in one of that code's regions. Returns the region.
    func internationalRegion(_ digits: String) -> String? {
        for length in 1...3 where digits.utf8.count > length {
            guard let code = Int(digits.prefix(length)), let plans = byCountryCode[code] else { continue }
            let nsn = String(digits.dropFirst(length))
            return plans.first(where: { $0.accepts(nsn) })?.plan.region
        }
        return nil
    }

    /// `digits` as dialled at home in one of `nationalRegions`: after its trunk prefix where the
    /// region has one (optionally after the NANP's "1"), else as they are. Returns the region.
    func nationalRegion(_ digits: String) -> String? {
        for region in Self.nationalRegions {
            guard let compiled = byRegion[region] else { continue }
            if compiled.plan.countryCode == 1 {
                // Every NANP region (US, CA, PR, the Caribbean, ...) shares the 10-digit plan.
                let nsn = digits.utf8.count == 11 && digits.hasPrefix("1") ? String(digits.dropFirst()) : digits
                if let nanp = byCountryCode[1]?.first(where: { $0.accepts(nsn) }) { return nanp.plan.region }
            } else if let prefix = compiled.plan.nationalPrefix {
                if digits.hasPrefix(prefix), compiled.accepts(String(digits.dropFirst(prefix.count))) { return region }
            } else if compiled.accepts(digits) {
                return region
            }
        }
        return nil
    }
}
