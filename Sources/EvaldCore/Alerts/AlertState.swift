/// An alert is firing until its recovery detector resolves it. The raw values are
/// the `status` of the Alertmanager webhook payload and the `state` of `evald alerts --json`.
public enum AlertState: String, Sendable {
    case firing, resolved
}
