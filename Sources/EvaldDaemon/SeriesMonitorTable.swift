import EvaldCore

/// Detection's monitors in an array, each at a slot that stays fixed until the table is
/// rebuilt: a (route, model)'s keys resolve to slots once, so feeding an evaluation's dozen
/// series indexes an array instead of hashing four strings a series, and a monitor changes
/// in place. Also which monitors changed since the last commit.
struct SeriesMonitorTable {
    private(set) var monitors: [SeriesMonitor] = []
    private var slots: [SeriesKey: Int] = [:]
    private var dirtyFlags: [Bool] = []
    private var dirtySlots: [Int] = []

    init(_ monitors: [SeriesMonitor] = []) {
        for monitor in monitors where slots[monitor.key] == nil { append(monitor) }
    }

    /// The slot of `key`'s monitor; a new, empty monitor when there is none (it is stored only
    /// once it is fed).
    mutating func slot(for key: SeriesKey, identity: String? = nil) -> Int {
        if let slot = slots[key] { return slot }
        append(SeriesMonitor(key: key, identity: identity))
        return monitors.count - 1
    }

    subscript(slot: Int) -> SeriesMonitor {
        get { monitors[slot] }
        _modify { yield &monitors[slot] }
    }

    subscript(key: SeriesKey) -> SeriesMonitor? { slots[key].map { monitors[$0] } }

    mutating func markDirty(_ slot: Int) {
        guard !dirtyFlags[slot] else { return }
        dirtyFlags[slot] = true
        dirtySlots.append(slot)
    }

    /// The slots changed since the last call, in key order (a stable write order).
    mutating func takeDirty() -> [Int] {
        let taken = dirtySlots.sorted { monitors[$0].key < monitors[$1].key }
        for slot in dirtySlots { dirtyFlags[slot] = false }
        dirtySlots = []
        return taken
    }

    /// Drops the monitors `shouldRemove` picks. Slots change: keys resolved earlier are stale.
    mutating func removeAll(where shouldRemove: (SeriesMonitor) -> Bool) {
        let kept = monitors.indices.filter { !shouldRemove(monitors[$0]) }
        guard kept.count != monitors.count else { return }
        var table = SeriesMonitorTable(kept.map { monitors[$0] })
        for (slot, old) in kept.enumerated() where dirtyFlags[old] { table.markDirty(slot) }
        self = table
    }

    private mutating func append(_ monitor: SeriesMonitor) {
        slots[monitor.key] = monitors.count
        monitors.append(monitor)
        dirtyFlags.append(false)
    }
}
