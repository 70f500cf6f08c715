import CZlib

/// Raw deflate (RFC 1951, zlib's `windowBits = -15`) with an optional preset dictionary: how
/// the state database stores each sampled record's JSON. A dictionary made of earlier records
/// of the same route holds what every record repeats (keys, system prompts, tool schemas), so
/// a record costs about what is new in it. Any zlib reads it back, e.g. Python's
/// `zlib.decompressobj(-15, zdict=dictionary).decompress(blob)`.
public enum RecordCompression {
    /// zlib uses at most the last 32 KiB of a dictionary (its window).
    public static let maxDictionaryBytes = 32 * 1024

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
        let initialized = deflateInit2_(prototype, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
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
