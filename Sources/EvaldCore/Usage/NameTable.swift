#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small dense ids for the names a usage batch keys by (routes, models, tenants), looked up by
/// their UTF-8 bytes: ingest meets a name on every spool line and makes a String for it only the
/// first time. Open addressing over FNV-1a hashes; the names' bytes live in one arena.
struct NameTable: Sendable {
    private(set) var names: [String] = []
    private var arena: [UInt8] = []
    /// Per id: the name's hash, and where its bytes are in the arena.
    private var entries: [(hash: UInt64, start: Int, count: Int)] = []
    /// -1 for an empty slot, else an id; a power of two long, at most half full.
    private var slots = [Int32](repeating: -1, count: 16)

    var count: Int { names.count }

    /// The id of a name; `bytes` must be valid UTF-8 (the scanner checked it).
    mutating func id(utf8 bytes: UnsafeRawBufferPointer) -> Int32 {
        let hash = Self.hash(bytes)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let id = slots[slot]
            if id < 0 { break }
            let entry = entries[Int(id)]
            if entry.hash == hash, entry.count == bytes.count, isStored(bytes, at: entry.start) { return id }
            slot = (slot + 1) & mask
        }
        let id = Int32(names.count)
        names.append(String(decoding: bytes, as: UTF8.self))
        entries.append((hash, arena.count, bytes.count))
        arena.append(contentsOf: bytes)
        slots[slot] = id
        if names.count * 2 > slots.count { grow() }
        return id
    }

    mutating func id(_ name: String) -> Int32 {
        var name = name
        return name.withUTF8 { id(utf8: UnsafeRawBufferPointer($0)) }
    }

    subscript(id: Int32) -> String { names[Int(id)] }

    private func isStored(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Bool {
        guard bytes.count > 0, let base = bytes.baseAddress else { return true }
        return arena.withUnsafeBytes { memcmp($0.baseAddress! + start, base, bytes.count) == 0 }
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for (id, entry) in entries.enumerated() {
            var slot = Int(truncatingIfNeeded: entry.hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        // Fold the high bits in: the slot is taken from the low ones.
        return hash ^ (hash >> 32)
    }
}
