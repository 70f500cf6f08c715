#if canImport(Glibc)
    import Glibc
#endif

/// glibc's allocator gives each thread that allocates an arena of its own (up to 8 per core)
/// and keeps freed memory in it. The daemon's loops run on a pool of threads and each round
/// allocates and frees a batch (evaluations read, state encoded, a report for a scrape), so
/// without a limit the resident size creeps up as more threads take turns, and stays there.
/// Two arenas and a periodic trim keep a long-running daemon's footprint flat.
///
/// `mallopt` and `malloc_trim` are in <malloc.h>, which the Glibc module does not export:
/// they are looked up by name (and skipped on a libc without them).
enum MemoryHygiene {
    /// glibc's M_ARENA_MAX.
    private static let arenaMaxOption: Int32 = -8

    /// Call before the thread pool starts.
    static func limitArenas() {
        #if canImport(Glibc)
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            if let symbol = dlsym(nil, "mallopt") {
                _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMaxOption, 2)
            }
        #endif
    }

    /// Returns freed memory to the system.
    static func trim() {
        #if canImport(Glibc)
            typealias MallocTrim = @convention(c) (Int) -> Int32
            if let symbol = dlsym(nil, "malloc_trim") {
                _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
            }
        #endif
    }
}
