import EvaldHTTP
import Foundation
import Testing

@Suite struct SecretLoaderTests {
    /// A fresh directory under the temporary directory, removed after `body`.
    private func withDirectory(_ body: (String) throws -> Void) throws {
        let path = NSTemporaryDirectory() + "evald-secrets-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    private func loadError(
        env: String? = nil, file: String? = nil, key: String = "k", configDirectory: String = "/", environment: [String: String] = [:]
    ) -> SecretLoadError? {
        do {
            _ = try SecretLoader.load(env: env, file: file, key: key, configDirectory: configDirectory, environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func fromTheEnvironmentTrimmed() throws {
        let secret = try SecretLoader.load(
            env: "JUDGE_KEY", file: nil, key: "endpoints.default.api_key_env", configDirectory: "/etc/evald",
            environment: ["JUDGE_KEY": "sk-env-value\n"])
        #expect(secret?.value == "sk-env-value")
    }

    @Test func neitherGivenIsNoSecret() throws {
        #expect(try SecretLoader.load(env: nil, file: nil, key: "k", configDirectory: "/", environment: [:]) == nil)
    }

    @Test func aMissingVariableNamesTheKeyAndTheVariable() {
        let error = loadError(env: "JUDGE_KEY", file: nil, key: "endpoints.default.api_key_env", configDirectory: "/", environment: [:])
        #expect(error?.key == "endpoints.default.api_key_env")
        #expect(error?.message.contains("JUDGE_KEY") == true)
        #expect(error?.shortDescription == "secret_env_missing")
        #expect(error?.description.hasPrefix("endpoints.default.api_key_env: ") == true)
        let empty = loadError(env: "JUDGE_KEY", file: nil, key: "k", configDirectory: "/", environment: ["JUDGE_KEY": " \n"])
        #expect(empty?.shortDescription == "secret_empty")
    }

    @Test func bothGivenIsAnError() {
        let error = loadError(env: "A", file: "b", key: "k", configDirectory: "/", environment: ["A": "x"])
        #expect(error?.shortDescription == "secret_ambiguous")
    }

    @Test func anAbsoluteFileIsReadAsIs() throws {
        try withDirectory { directory in
            let path = directory + "/judge_api_key"
            try "sk-file-value \n\n".write(toFile: path, atomically: true, encoding: .utf8)
            let secret = try SecretLoader.load(
                env: nil, file: path, key: "endpoints.default.api_key_file", configDirectory: "/nowhere",
                environment: ["CREDENTIALS_DIRECTORY": "/nowhere/either"])
            #expect(secret == Secret("sk-file-value"))
        }
    }

    @Test func aRelativeFileIsLookedUpInTheCredentialsDirectory() throws {
        try withDirectory { credentials in
            try "from-credentials\n".write(toFile: credentials + "/judge_api_key", atomically: true, encoding: .utf8)
            let secret = try SecretLoader.load(
                env: nil, file: "judge_api_key", key: "endpoints.default.api_key_file", configDirectory: "/nowhere",
                environment: ["CREDENTIALS_DIRECTORY": credentials])
            #expect(secret?.value == "from-credentials")
        }
    }

    @Test func aRelativeFileIsLookedUpBesideTheConfigWithoutCredentialsDirectory() throws {
        try withDirectory { configDirectory in
            try "from-config-dir".write(toFile: configDirectory + "/slack_url", atomically: true, encoding: .utf8)
            let secret = try SecretLoader.load(
                env: nil, file: "slack_url", key: "alerts.receivers.chat.url_file", configDirectory: configDirectory,
                environment: [:])
            #expect(secret?.value == "from-config-dir")
        }
    }

    @Test func aMissingFileNamesTheKeyAndThePathButNoValue() throws {
        try withDirectory { directory in
            // The value exists beside the config, but with systemd only the credentials count.
            try "sk-must-not-show".write(toFile: directory + "/judge_api_key", atomically: true, encoding: .utf8)
            let credentials = directory + "/credentials"
            let error = loadError(
                env: nil, file: "judge_api_key", key: "endpoints.default.api_key_file", configDirectory: directory,
                environment: ["CREDENTIALS_DIRECTORY": credentials])
            let found = try #require(error)
            #expect(found.key == "endpoints.default.api_key_file")
            #expect(found.message.contains(credentials + "/judge_api_key"))
            #expect(found.message.contains("LoadCredential="))
            #expect(found.shortDescription == "secret_file_missing")
            #expect(!found.description.contains("sk-must-not-show"))

            let plain = loadError(env: nil, file: "absent", key: "k", configDirectory: directory, environment: [:])
            #expect(plain?.message.contains(directory + "/absent") == true)
        }
    }

    @Test func emptyFilesAndDirectoriesAreErrors() throws {
        try withDirectory { directory in
            try "\n".write(toFile: directory + "/empty", atomically: true, encoding: .utf8)
            let empty = loadError(env: nil, file: "empty", key: "k", configDirectory: directory, environment: [:])
            #expect(empty?.shortDescription == "secret_empty")
            let folder = loadError(env: nil, file: directory, key: "k", configDirectory: "/", environment: [:])
            #expect(folder?.shortDescription == "secret_file_unreadable")
        }
    }

    @Test func aSecretNeverPrintsItself() {
        let secret = Secret("sk-very-secret-value")
        #expect(secret.description == "<secret>")
        #expect(secret.debugDescription == "<secret>")
        #expect("\(secret)" == "<secret>")
        #expect(String(reflecting: secret) == "<secret>")
        #expect(String(describing: [secret]) == "[<secret>]")
        #expect(String(describing: Optional(secret)) == "Optional(<secret>)")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("very-secret"))
        #expect(Mirror(reflecting: secret).children.isEmpty)
        #expect(secret.value == "sk-very-secret-value")
        #expect(secret == Secret("sk-very-secret-value"))
        #expect(secret != Secret("sk-very-secret-valuE"))
        #expect(secret != Secret("sk-very-secret-value-longer"))
    }
}
