import EvaldDaemon
import Foundation
import Logging
import Testing

final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var lines: [String] { lock.withLock { stored } }
    func append(_ line: String) { lock.withLock { stored.append(line) } }
}

@Suite struct LogfmtLogHandlerTests {
    @Test func writesOneKeyValueLinePerEvent() {
        let collector = LineCollector()
        var logger = Logger(label: "test") { label in LogfmtLogHandler(label: label, level: .info, output: collector.append) }
        logger[metadataKey: "instance"] = "a"
        logger.info("spool.file_tracked", metadata: ["spool.file": "/var/spool/x y.jsonl", "detail": "say \"hi\"\nbye"])
        logger.debug("not.shown")
        #expect(collector.lines.count == 1)
        let line = collector.lines[0]
        #expect(line.hasSuffix("\n"))
        #expect(line.split(separator: "\n").count == 1)
        #expect(line.contains(" level=info msg=spool.file_tracked "))
        #expect(line.contains(#"detail="say \"hi\"\nbye""#))
        #expect(line.contains(#"spool.file="/var/spool/x y.jsonl""#))
        #expect(line.contains("instance=a"))
        #expect(line.hasPrefix("ts=20"))
    }
}
