import Foundation

/// Numbers as people read them in alerts, reports and the CLI.
public enum NumberText {
    /// 4 rather than 4.0; 3.5 as it is.
    public static func compact(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
