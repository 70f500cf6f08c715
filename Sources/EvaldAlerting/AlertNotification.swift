import EvaldCore

/// One delivery: an alert at one of its state changes (or a repeat while firing), to one
/// receiver. The outbox stores these before sending, so they are plain values.
public struct AlertNotification: Sendable, Equatable {
    public enum Event: String, Sendable {
        case firing, resolved
        /// Still firing, sent again after `alerts.repeat_interval` (or, to Alertmanager, after
        /// `resend_interval`, so it keeps the alert active).
        case `repeat`
    }

    public var alert: Alert
    public var event: Event

    public init(alert: Alert, event: Event) {
        self.alert = alert
        self.event = event
    }

    /// Firing and repeat both say "the problem is there"; only resolved clears it.
    var isResolution: Bool { event == .resolved }
}
