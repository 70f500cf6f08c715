import Foundation
import Synchronization

/// Which checks run on which route: every route glob that matches contributes its checks, in
/// config order; a later check with the same name replaces an earlier one, so a route can
/// override a `*` default (`fast` at 8 s for all, at 2 s for `autocomplete-*`).
public final class CheckPlan: Sendable {
    private let routes: [(glob: Glob, checks: [Check])]
    /// The merged checks per route seen, shared by ingest and the CLI's threads.
    private let cache = Mutex<[String: [Check]]>([:])

    public init(routes: [(glob: Glob, checks: [Check])]) {
        self.routes = routes
    }

    public static let empty = CheckPlan(routes: [])

    /// Builds every check of the config; throws all the problems found at once.
    public convenience init(config: EvaldConfig, readFile: (String) throws -> String) throws(ConfigErrors) {
        var problems: [ConfigProblem] = []
        var built: [(Glob, [Check])] = []
        for route in config.checks {
            var checks: [Check] = []
            for check in route.checks {
                do {
                    checks.append(try Check.make(check, file: config.sourcePath, readFile: readFile))
                } catch {
                    problems += error.problems
                }
            }
            built.append((route.glob, checks))
        }
        guard problems.isEmpty else { throw ConfigErrors(problems) }
        self.init(routes: built)
    }

    public var isEmpty: Bool { routes.allSatisfy { $0.checks.isEmpty } }

    public func checks(forRoute route: String?) -> [Check] {
        let key = route ?? ""
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let merged = Self.merge(routes, forRoute: key, name: \.name)
        cache.withLock {
            // Routes come from the traces: bound the cache so a producer that puts ids in
            // route names cannot grow it without end.
            if $0.count >= 4096 { $0.removeAll(keepingCapacity: true) }
            $0[key] = merged
        }
        return merged
    }

    /// The rule above, for checks built or only configured (`CheckConfig`, as detection reads
    /// a check's `min_pass_rate`): the checks of every matching glob in order, a later one
    /// replacing an earlier one of the same name.
    public static func merge<Item>(
        _ routes: [(glob: Glob, checks: [Item])], forRoute route: String,
        name: (Item) -> String
    ) -> [Item] {
        var merged: [Item] = []
        for entry in routes where entry.glob.matches(route) {
            for check in entry.checks {
                if let index = merged.firstIndex(where: { name($0) == name(check) }) {
                    merged[index] = check
                } else {
                    merged.append(check)
                }
            }
        }
        return merged
    }

    public func evaluate(_ record: TraceRecord) -> [CheckResult] {
        checks(forRoute: record.route).compactMap { $0.evaluate(record) }
    }
}
