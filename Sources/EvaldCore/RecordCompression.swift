import CLibdeflate
import CZlib

/// Raw deflate (RFC 1951, zlib's `windowBits = -15`) with an optional preset dictionary: how
/// the state database stores each sampled record's JSON. A dictionary made of earlier records
/// of the same route holds what every record repeats (keys, system prompts, tool schemas), so
/// a record costs about what is new in it. Any zlib reads it back, e.g. Python's
/// `zlib.decompressobj(-15, zdict=dictionary).decompress(blob)`.
public enum RecordCompression {
    /// zlib uses at most the last 32 KiB of a dictionary (its window).
    public static let maxDictionaryBytes = 32 * 1024

    /// zlib's memLevel: 6 rather than its default 8. A record of a few KiB compresses to the same
    /// size, and the state is 160 KiB instead of 256 KiB, which `PrimedDeflater` copies for each
    /// record (Benchmarks/RESULTS.md). Decompression does not depend on it.
    static let memoryLevel: Int32 = 6

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public init(message: String) { self.message = message }
        public var description: String { "compressed record: \(message)" }
    }

    public static func compress(_ input: [UInt8], dictionary: [UInt8]? = nil, level: Int32 = 6) -> [UInt8] {
        PrimedDeflater(dictionary: dictionary, level: level).compress(input)
    }

    public static func decompress(_ input: [UInt8], dictionary: [UInt8]? = nil) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(message: "inflateInit2 failed: out of memory")
        }
        defer { inflateEnd(&stream) }
        if let dictionary, !dictionary.isEmpty {
            let tail = dictionary.suffix(maxDictionaryBytes)
            let status = tail.withUnsafeBufferPointer { inflateSetDictionary(&stream, $0.baseAddress, UInt32($0.count)) }
            guard status == Z_OK else { throw Failure(message: "the dictionary was refused (\(status))") }
        }
        var input = input
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(4096, input.count * 4))
        var status: Int32 = Z_OK
        try input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            repeat {
                status = chunk.withUnsafeMutableBufferPointer { target in
                    stream.next_out = target.baseAddress
                    stream.avail_out = UInt32(target.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
                if status == Z_NEED_DICT { throw Failure(message: "needs its dictionary") }
                if status != Z_OK && status != Z_STREAM_END { throw Failure(message: "is corrupt (zlib status \(status))") }
                if status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0 { throw Failure(message: "is truncated") }
            } while status != Z_STREAM_END
        }
        return output
    }
}

/// Raw deflate without a dictionary by libdeflate, for the failed calls ingest stores whatever
/// the sample says (a few percent of all calls, compressed on the reading threads). On records
/// of about a KiB it takes a third of zlib's time for the same size (12 us against 34 us a
/// record, Benchmarks/RESULTS.md), and it keeps its tables from one record to the next. The
/// format is the same raw deflate: `RecordCompression.decompress` (zlib) reads it back. Not
/// thread-safe: one per thread.
public final class RecordDeflater {
    private let compressor: OpaquePointer

    /// Level 1: on spool records it compresses as well as level 6 (856 and 728 bytes a record
    /// in two samples of 2,000) in two thirds of the time.
    public init(level: Int32 = 1) {
        guard let compressor = libdeflate_alloc_compressor(level) else { preconditionFailure("libdeflate_alloc_compressor failed: out of memory") }
        self.compressor = compressor
    }

    deinit {
        libdeflate_free_compressor(compressor)
    }

    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = libdeflate_deflate_compress_bound(compressor, input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { target, count in
            count = Self.emptyInput.withUnsafeBytes { empty in
                libdeflate_deflate_compress(compressor, input.baseAddress ?? empty.baseAddress, input.count, target.baseAddress, target.count)
            }
            // The bound holds any input's output, so the compressor never runs out of room.
            precondition(count > 0, "libdeflate_deflate_compress ran out of room within its own bound")
        }
    }

    private static let emptyInput: [UInt8] = [0]

    public func compress(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { compress(UnsafeRawBufferPointer($0)) }
    }
}

/// A raw deflate stream primed with one preset dictionary, copied (`deflateCopy`) for each
/// input: priming hashes up to 32 KiB, several times what compressing a record of a few KiB
/// costs, so a batch of one route's records primes once. Its output is what `compress` with
/// the same dictionary makes. Not shared between threads: one per write transaction.
public final class PrimedDeflater {
    // Heap-allocated: zlib's state points back at its z_stream, which must not move.
    private let prototype: UnsafeMutablePointer<z_stream>

    public init(dictionary: [UInt8]?, level: Int32 = 6) {
        prototype = .allocate(capacity: 1)
        prototype.initialize(to: z_stream())
        let initialized = deflateInit2_(
            prototype, level, Z_DEFLATED, -15, RecordCompression.memoryLevel, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(initialized == Z_OK, "deflateInit2 failed (\(initialized)): out of memory")
        if let dictionary, !dictionary.isEmpty {
            let tail = dictionary.suffix(RecordCompression.maxDictionaryBytes)
            _ = tail.withUnsafeBufferPointer { deflateSetDictionary(prototype, $0.baseAddress, UInt32($0.count)) }
        }
    }

    deinit {
        deflateEnd(prototype)
        prototype.deinitialize(count: 1)
        prototype.deallocate()
    }

    public func compress(_ input: [UInt8]) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let copied = deflateCopy(stream, prototype)
        precondition(copied == Z_OK, "deflateCopy failed (\(copied)): out of memory")
        defer { deflateEnd(stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, UInt(input.count))) + 16)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.pointee.next_in = source.baseAddress
                stream.pointee.avail_in = UInt32(source.count)
                stream.pointee.next_out = target.baseAddress
                stream.pointee.avail_out = UInt32(target.count)
                return deflate(stream, Z_FINISH)
            }
        }
        // deflateBound is an upper bound, so one call with Z_FINISH always ends the stream.
        precondition(status == Z_STREAM_END, "deflate did not finish (\(status))")
        output.removeLast(output.count - Int(stream.pointee.total_out))
        return output
    }
}
