/// Lowercase hexadecimal, two digits a byte: trace ids stored as bytes, content hashes and
/// signatures. Hot on the judge's read path (a trace id per queued record), hence no
/// `String(format:)`.
public func lowercaseHex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits: StaticString = "0123456789abcdef"
    var ascii: [UInt8] = []
    ascii.reserveCapacity(bytes.underestimatedCount * 2)
    digits.withUTF8Buffer { digits in
        for byte in bytes {
            ascii.append(digits[Int(byte >> 4)])
            ascii.append(digits[Int(byte & 0x0f)])
        }
    }
    return String(decoding: ascii, as: UTF8.self)
}
