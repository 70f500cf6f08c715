/// JSON numbers read from their bytes when that is exact: the usage scan reads a cost from every
/// spool line, and `Double(String)` (strtod) costs a String and several times the work.
public enum DecimalText {
    /// The value of `-?digits(.digits)?([eE][+-]?digits)?` when at most 15 significant digits
    /// and a decimal exponent within ±22 make it exact: the digits and the power of ten are both
    /// exact doubles, so one multiplication or division rounds correctly (Clinger's fast path)
    /// and the result equals strtod's. Nil for anything else; the caller then parses the text.
    public static func exactValue(_ b: UnsafeRawBufferPointer) -> Double? {
        var i = 0
        let count = b.count
        var negative = false
        if i < count, b[i] == 0x2D {
            negative = true
            i += 1
        }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        let integerStart = i
        while i < count, b[i] &- 0x30 < 10 {
            if mantissa != 0 || b[i] != 0x30 { significant += 1 }
            mantissa = mantissa &* 10 &+ UInt64(b[i] &- 0x30)
            i += 1
        }
        // JSON: one or more integer digits, and no leading zero before another digit.
        guard i > integerStart, b[integerStart] != 0x30 || i == integerStart + 1 else { return nil }
        if i < count, b[i] == 0x2E {
            i += 1
            let fractionStart = i
            while i < count, b[i] &- 0x30 < 10 {
                if mantissa != 0 || b[i] != 0x30 { significant += 1 }
                mantissa = mantissa &* 10 &+ UInt64(b[i] &- 0x30)
                exponent -= 1
                i += 1
            }
            guard i > fractionStart else { return nil }
        }
        guard significant <= 15 else { return nil }
        if i < count, b[i] | 0x20 == 0x65 {
            i += 1
            var exponentNegative = false
            if i < count, b[i] == 0x2B || b[i] == 0x2D {
                exponentNegative = b[i] == 0x2D
                i += 1
            }
            let digitsStart = i
            var written = 0
            while i < count, b[i] &- 0x30 < 10, i - digitsStart < 4 {
                written = written * 10 + Int(b[i] &- 0x30)
                i += 1
            }
            guard i > digitsStart, i == count else { return nil }
            exponent += exponentNegative ? -written : written
        }
        guard i == count, exponent >= -22, exponent <= 22 else { return nil }
        var value = Double(mantissa)
        if exponent < 0 { value /= powersOfTen[-exponent] } else { value *= powersOfTen[exponent] }
        return negative ? -value : value
    }

    /// 1e0 ... 1e22, every one an exact double.
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
        1e21, 1e22,
    ]
}
