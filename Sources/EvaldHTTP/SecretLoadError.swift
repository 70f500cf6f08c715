/// A secret could not be loaded. Names the config key and the variable or file, never
/// the value (nor a prefix of it).
public struct SecretLoadError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The config key that asked for the secret, e.g. "endpoints.default.api_key_file".
    public var key: String
    /// For a person: what is wrong and what to do.
    public var message: String
    /// A value-free label for metrics: "secret_env_missing", "secret_file_missing",
    /// "secret_file_unreadable", "secret_empty", "secret_ambiguous".
    public var shortDescription: String

    public init(key: String, message: String, shortDescription: String = "secret_unavailable") {
        self.key = key
        self.message = message
        self.shortDescription = shortDescription
    }

    public var description: String { "\(key): \(message)" }
}
