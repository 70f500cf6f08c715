import EvaldTesting
import Foundation
import Testing

/// `make install` into a temporary DESTDIR, with the binary the tests use (CI does not build
/// release twice), then `make uninstall`.
@Suite struct InstallIntegrationTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func make(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["make", "--no-print-directory", "-C", Self.packageRoot] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    func files(under root: String) -> Set<String> {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found = Set<String>()
        while let path = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue { found.insert(path) }
        }
        return found
    }

    @Test func installsIntoDestdirAndUninstalls() async throws {
        try await onTestThreads {
            let destdir = NSTemporaryDirectory() + "evald-install-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: destdir) }
            let (code, output) = try make(["install", "DESTDIR=\(destdir)", "PREFIX=/usr", "BINARY=\(EvaldHarness.binary)"])
            #expect(code == 0, "\(output)")
            let installed = files(under: destdir)
            let expected: Set<String> = [
                "usr/bin/evald", "etc/systemd/system/evald.service", "etc/evald/evald.yaml",
                "usr/share/evald/README.md", "usr/share/evald/schemas/order.json", "usr/share/evald/schemas/issue_refund.json",
                "usr/share/evald/contrib/grafana/evald.json", "usr/share/evald/contrib/prometheus/evald-rules.yml",
                // The user docs, where alerts' default runbook_url points (PREFIX/share/doc/evald).
                "usr/share/doc/evald/README.md", "usr/share/doc/evald/alerts.md", "usr/share/doc/evald/configuration.md",
                "usr/share/doc/evald/cli.md", "usr/share/doc/evald/metrics.md",
            ]
            #expect(expected.isSubset(of: installed), "missing: \(expected.subtracting(installed))")
            #expect(installed.allSatisfy { $0.hasPrefix("usr/") || $0.hasPrefix("etc/") })
            #expect(FileManager.default.isExecutableFile(atPath: destdir + "/usr/bin/evald"))
            let unit = try String(contentsOfFile: destdir + "/etc/systemd/system/evald.service", encoding: .utf8)
            #expect(unit.contains("ExecStart=/usr/bin/evald run --config /etc/evald/evald.yaml"))
            // The installed starting config is valid.
            let check = try EvaldHarness().run(["check-config", "--config", destdir + "/etc/evald/evald.yaml"], config: false)
            #expect(check.code == 0, "\(check.stderr)")

            // A second install keeps an existing (edited) config.
            try "# edited\n".write(toFile: destdir + "/etc/evald/evald.yaml", atomically: true, encoding: .utf8)
            #expect(try make(["install", "DESTDIR=\(destdir)", "PREFIX=/usr", "BINARY=\(EvaldHarness.binary)"]).0 == 0)
            #expect(try String(contentsOfFile: destdir + "/etc/evald/evald.yaml", encoding: .utf8) == "# edited\n")

            #expect(try make(["uninstall", "DESTDIR=\(destdir)", "PREFIX=/usr"]).0 == 0)
            #expect(files(under: destdir) == ["etc/evald/evald.yaml"])
        }
    }
}
