/// How urgent an alert is. The raw values are the `severity` label on the wire and the
/// `min_severity` values of a receiver's config.
public enum AlertSeverity: String, Sendable, Comparable, CaseIterable {
    case info, warning, critical

    /// Declaration order is urgency order, so `min_severity: warning` lets warning and
    /// critical through.
    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool {
        lhs.rank < rhs.rank
    }

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }
}
