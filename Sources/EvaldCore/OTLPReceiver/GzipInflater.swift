import CZlib

/// gzip (RFC 1952) as OTLP/HTTP clients send it with `Content-Encoding: gzip`, inflated with a
/// bound: a small body may inflate to gigabytes, and the bound is checked while inflating,
/// never after.
public enum GzipInflater {
    public enum Failure: Error, Equatable, Sendable {
        /// The inflated body would be longer than the limit.
        case tooLarge(limit: Int)
        /// Not gzip, corrupt or cut short; the message says which.
        case corrupt(String)
    }

    public static func inflate(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: a gzip header and trailer (not zlib's, not raw deflate).
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("inflateInit2 failed: out of memory")
        }
        defer { inflateEnd(&stream) }
        var input = input
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var failure: Failure?
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { target in
                    stream.next_out = target.baseAddress
                    stream.avail_out = UInt32(target.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                if output.count + produced > limit {
                    failure = .tooLarge(limit: limit)
                    return
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END {
                    // Concatenated gzip members are one body (RFC 1952 2.2).
                    if stream.avail_in > 0, inflateReset(&stream) == Z_OK { continue }
                    return
                }
                if status != Z_OK {
                    failure = .corrupt(status == Z_DATA_ERROR ? "not gzip data or corrupt" : "inflate failed (zlib status \(status))")
                    return
                }
                if stream.avail_in == 0 && stream.avail_out != 0 {
                    failure = .corrupt("the gzip stream is cut short")
                    return
                }
            }
        }
        if let failure { throw failure }
        return output
    }
}
