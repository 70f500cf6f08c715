import Foundation

/// Loads the secrets named in the config: `*_env: NAME` or `*_file: PATH`.
public enum SecretLoader {
    /// Secrets are short; a bigger file is a wrong path (a log, a binary), not a key.
    public static let maxFileBytes = 64 * 1024

    /// `env`: read the environment variable NAME. `file`: an absolute path is read as is; a
    /// relative name is looked up in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`)
    /// when that is set, else relative to `configDirectory`. Trailing newline and
    /// whitespace are trimmed (editors and `echo` add a newline). Both nil: nil.
    public static func load(
        env: String?, file: String?, key: String, configDirectory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SecretLoadError) -> Secret? {
        switch (env, file) {
        case (nil, nil):
            return nil
        case (.some, .some):
            throw SecretLoadError(
                key: key, message: "give either the environment variable or the file, not both",
                shortDescription: "secret_ambiguous")
        case (let name?, nil):
            return try fromEnvironment(name, key: key, environment: environment)
        case (nil, let file?):
            return try fromFile(file, key: key, configDirectory: configDirectory, environment: environment)
        }
    }

    /// Where a `*_file` value points: the rule of `load`, exposed for messages and tests.
    public static func resolvePath(_ file: String, configDirectory: String, environment: [String: String]) -> String {
        if file.hasPrefix("/") { return file }
        if let credentials = environment["CREDENTIALS_DIRECTORY"], !credentials.isEmpty {
            return (credentials as NSString).appendingPathComponent(file)
        }
        return (configDirectory as NSString).appendingPathComponent(file)
    }

    private static func fromEnvironment(_ name: String, key: String, environment: [String: String]) throws(SecretLoadError) -> Secret {
        guard let raw = environment[name] else {
            throw SecretLoadError(
                key: key,
                message:
                    "the environment variable \(name) is not set; set it in evald's environment (systemd: Environment= or EnvironmentFile=) or name a file instead",
                shortDescription: "secret_env_missing")
        }
        let value = trimmingTrailingWhitespace(raw)
        guard !value.isEmpty else {
            throw SecretLoadError(
                key: key, message: "the environment variable \(name) is empty; give it the secret's value",
                shortDescription: "secret_empty")
        }
        return Secret(value)
    }

    private static func fromFile(
        _ file: String, key: String, configDirectory: String, environment: [String: String]
    ) throws(SecretLoadError) -> Secret {
        guard !file.isEmpty else {
            throw SecretLoadError(key: key, message: "the file name is empty", shortDescription: "secret_file_missing")
        }
        let path = resolvePath(file, configDirectory: configDirectory, environment: environment)
        let viaCredentials = !file.hasPrefix("/") && !(environment["CREDENTIALS_DIRECTORY"] ?? "").isEmpty
        let bytes = try readSmallFile(
            path, key: key,
            missingHint: viaCredentials
                ? "the credential \(file) is not in $CREDENTIALS_DIRECTORY (\(path)); add LoadCredential=\(file):/path/to/secret to the unit"
                : "the file \(path) does not exist; create it (mode 0600), or give an absolute path")
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw SecretLoadError(key: key, message: "the file \(path) is not UTF-8 text", shortDescription: "secret_file_unreadable")
        }
        let value = trimmingTrailingWhitespace(text)
        guard !value.isEmpty else {
            throw SecretLoadError(key: key, message: "the file \(path) is empty; write the secret into it", shortDescription: "secret_empty")
        }
        return Secret(value)
    }

    /// POSIX reads so the message can tell a missing file from a permission problem.
    private static func readSmallFile(_ path: String, key: String, missingHint: String) throws(SecretLoadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw SecretLoadError(key: key, message: missingHint, shortDescription: "secret_file_missing")
            }
            let hint = code == EACCES ? "; make it readable by the user evald runs as" : ""
            throw SecretLoadError(
                key: key, message: "the file \(path) cannot be read (\(String(cString: strerror(code))))\(hint)",
                shortDescription: "secret_file_unreadable")
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw SecretLoadError(key: key, message: "\(path) is a directory, not a file", shortDescription: "secret_file_unreadable")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= maxFileBytes {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SecretLoadError(
                    key: key, message: "the file \(path) cannot be read (\(String(cString: strerror(errno))))",
                    shortDescription: "secret_file_unreadable")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        guard bytes.count <= maxFileBytes else {
            throw SecretLoadError(
                key: key, message: "the file \(path) is larger than \(maxFileBytes / 1024) KiB; is it the right file?",
                shortDescription: "secret_file_unreadable")
        }
        return bytes
    }

    private static func trimmingTrailingWhitespace(_ text: String) -> String {
        var text = Substring(text)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
