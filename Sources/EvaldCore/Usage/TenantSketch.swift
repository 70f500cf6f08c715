/// The heavy hitters among a day's tenants: Space-Saving (Metwally, Agrawal, El Abbadi 2005),
/// weighted by calls, with at most `capacity` tenants.
///
/// A tenant not yet kept takes the place of the one with the fewest calls and inherits its
/// counts, so each kept number is an upper bound on the truth and the inherited part (`error`)
/// bounds how much it overstates: truth lies in [estimate - error, estimate]. Any tenant with
/// more than (all calls) / capacity calls is guaranteed to be kept.
public struct TenantSketch: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var usage: TenantUsage
        /// What the entry inherited when it took its place: the most it overstates.
        public var error: TenantUsage

        public init(usage: TenantUsage, error: TenantUsage = TenantUsage()) {
            self.usage = usage
            self.error = error
        }
    }

    /// What one update changed, for the store to write back.
    public struct Change: Sendable, Equatable {
        public var tenant: String
        /// The tenant whose place it took, to delete.
        public var evicted: String?
    }

    public static let defaultCapacity = 1000

    public let capacity: Int
    public private(set) var entries: [String: Entry]
    /// (calls, tenant) of every update, smallest first; an item is stale when the tenant's
    /// count has moved on or it left. Counts only grow, so the smallest fresh item is the
    /// smallest entry.
    private var smallest = MinHeap()

    public init(capacity: Int = defaultCapacity, entries: [String: Entry] = [:]) {
        self.capacity = capacity
        self.entries = entries
        rebuildHeap()
    }

    public static func == (lhs: TenantSketch, rhs: TenantSketch) -> Bool {
        lhs.capacity == rhs.capacity && lhs.entries == rhs.entries
    }

    private mutating func rebuildHeap() {
        smallest = MinHeap(entries.map { HeapItem(calls: $0.value.usage.calls, tenant: $0.key) })
    }

    /// Adds a tenant's usage (a batch's worth: the weighted update keeps the bounds).
    @discardableResult
    public mutating func add(_ tenant: String, _ usage: TenantUsage) -> Change {
        defer {
            if smallest.count > 4 * max(capacity, 16) { rebuildHeap() }
        }
        if var entry = entries[tenant] {
            entry.usage = entry.usage + usage
            entries[tenant] = entry
            smallest.push(HeapItem(calls: entry.usage.calls, tenant: tenant))
            return Change(tenant: tenant, evicted: nil)
        }
        guard entries.count >= capacity, let evicted = popSmallest() else {
            entries[tenant] = Entry(usage: usage)
            smallest.push(HeapItem(calls: usage.calls, tenant: tenant))
            return Change(tenant: tenant, evicted: nil)
        }
        let inherited = entries.removeValue(forKey: evicted)!.usage
        let entry = Entry(usage: inherited + usage, error: inherited)
        entries[tenant] = entry
        smallest.push(HeapItem(calls: entry.usage.calls, tenant: tenant))
        return Change(tenant: tenant, evicted: evicted)
    }

    /// The kept tenant with the fewest calls (ties broken by name, so replays agree).
    private mutating func popSmallest() -> String? {
        while let item = smallest.pop() {
            if entries[item.tenant]?.usage.calls == item.calls { return item.tenant }
        }
        return nil
    }

    /// The largest error any entry can carry: the smallest kept count once the sketch is full.
    public var errorBound: Int64 {
        entries.count < capacity ? 0 : entries.values.map(\.usage.calls).min() ?? 0
    }
}

struct HeapItem: Sendable, Comparable {
    var calls: Int64
    var tenant: String

    static func < (lhs: HeapItem, rhs: HeapItem) -> Bool { (lhs.calls, lhs.tenant) < (rhs.calls, rhs.tenant) }
}

/// A binary min-heap.
struct MinHeap: Sendable {
    private var items: [HeapItem] = []

    init(_ items: [HeapItem] = []) {
        self.items = items
        for index in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    var count: Int { items.count }

    mutating func push(_ item: HeapItem) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> HeapItem? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        siftDown(0)
        return top
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            guard smallest != parent else { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
