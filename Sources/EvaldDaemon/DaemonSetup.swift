import EvaldAlerting
import EvaldCore
import Synchronization

/// Everything a configuration builds, as one immutable value: the config, its checks, its
/// judges with their clients, and its alert receivers. A reload builds a whole new setup
/// before publishing it, and every service reads the current one at the start of a round, so
/// a reload applies whole or not at all, and no service ever sees half of one.
public struct DaemonSetup: Sendable {
    /// Grows by one with each published setup; a service applies a setup once per version.
    public let version: Int
    public let config: EvaldConfig
    public let checks: CheckPlan
    public let roster: JudgeRoster
    public let receivers: [any AlertReceiver]

    public init(version: Int = 1, config: EvaldConfig, checks: CheckPlan, roster: JudgeRoster, receivers: [any AlertReceiver]) {
        self.version = version
        self.config = config
        self.checks = checks
        self.roster = roster
        self.receivers = receivers
    }
}

/// The setup in force, shared by the services; `ReloadService` publishes a new one.
public final class SetupSource: Sendable {
    private let setup: Mutex<DaemonSetup>

    public init(_ initial: DaemonSetup) {
        setup = Mutex(initial)
    }

    public var current: DaemonSetup { setup.withLock { $0 } }

    /// Publishes a reloaded configuration's setup (built whole by the caller).
    public func publish(config: EvaldConfig, checks: CheckPlan, roster: JudgeRoster, receivers: [any AlertReceiver]) {
        setup.withLock {
            $0 = DaemonSetup(version: $0.version + 1, config: config, checks: checks, roster: roster, receivers: receivers)
        }
    }
}
