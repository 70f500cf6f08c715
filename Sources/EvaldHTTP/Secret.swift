/// A secret value (API key, webhook secret, webhook URL) that never prints itself:
/// string interpolation, `print`, `dump`, `debugPrint` and logging metadata built from
/// it all show `<secret>`. Read `value` only where the secret leaves the process.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
    /// No children, so `dump` and `Mirror` have nothing to show but the description.
    public var customMirror: Mirror { Mirror(self, children: [:], displayStyle: .struct) }

    /// Compares without an early exit, so the time taken says nothing about where two
    /// secrets first differ (e.g. checking a webhook's shared secret).
    public static func == (lhs: Secret, rhs: Secret) -> Bool {
        let a = Array(lhs.value.utf8), b = Array(rhs.value.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
