import EvaldCore
import Foundation

/// The rubrics of `judge.dir`, each parsed, dry-rendered and matched to an endpoint of
/// the config. Only rubrics without problems are in the catalog, so the daemon can keep judging
/// with the good ones while `check-config` reports the bad ones.
public struct JudgeCatalog: Sendable {
    public var rubrics: [JudgeRubric]

    /// What `evald status` and the `--once` summary say when judges cannot run for want of an endpoint.
    public static let enableHint =
        "to enable, add an OpenAI-compatible endpoint under `endpoints` (e.g. a local Ollama: {kind: openai, base_url: http://127.0.0.1:11434/v1, model: llama3.1}) and set judge.default_endpoint, or an Anthropic one with an API key (api_key_env)"

    public init(rubrics: [JudgeRubric]) { self.rubrics = rubrics }

    /// The rubrics that judge traces of `route`, in file-name order.
    public func rubrics(forRoute route: String?) -> [JudgeRubric] {
        rubrics.filter { $0.applies(toRoute: route) }
    }

    /// The endpoint a rubric is sent to: its own, else the config's default.
    public static func endpointName(of rubric: JudgeRubric, defaultEndpoint: String?) -> String? {
        rubric.endpoint ?? defaultEndpoint
    }

    /// Reads every `*.md` in the directory (sorted by name; hidden files and `README.md` are
    /// skipped, so the folder can document itself).
    ///
    /// A directory that does not exist is an empty catalog, not a problem: `judge.dir` has a
    /// default, and an install without judges (no endpoint yet, as in `examples/`) is valid.
    /// `check-config` warns about it. A path that exists but is not a readable directory is a problem.
    public static func load(
        directory: String, endpoints: [String: EndpointConfig], defaultEndpoint: String?,
        send: Set<JudgeSendField> = JudgeSendField.defaults
    )
        -> (catalog: JudgeCatalog, problems: [JudgeRubricError])
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            return (JudgeCatalog(rubrics: []), [])
        }
        guard isDirectory.boolValue else {
            return (
                JudgeCatalog(rubrics: []),
                [
                    JudgeRubricError(
                        path: directory, line: nil, key: nil,
                        message: "judge.dir is not a directory; point it at the folder holding the rubric files (*.md)")
                ]
            )
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            return (
                JudgeCatalog(rubrics: []),
                [
                    JudgeRubricError(
                        path: directory, line: nil, key: nil,
                        message: "cannot list the judge directory (\(error.localizedDescription)); check its permissions")
                ]
            )
        }
        let files = names.filter { $0.hasSuffix(".md") && !$0.hasPrefix(".") && $0.lowercased() != "readme.md" }.sorted()
        var rubrics: [JudgeRubric] = []
        var problems: [JudgeRubricError] = []
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append(JudgeRubricError(path: path, line: nil, key: nil, message: "cannot read the rubric file; check its permissions"))
                continue
            }
            do {
                let rubric = try JudgeRubric.parse(path: path, bytes: [UInt8](data))
                try check(rubric, endpoints: endpoints, defaultEndpoint: defaultEndpoint, loaded: rubrics)
                let withheld = rubric.sentFields.subtracting(send)
                if !withheld.isEmpty {
                    problems.append(
                        JudgeRubricError(
                            path: path, line: rubric.templateLine, key: "template",
                            message:
                                "the prompt sends \(withheld.sorted().map(\.rawValue).joined(separator: ", ")), which judge.send (\(send.sorted().map(\.rawValue).joined(separator: ", "))) keeps from leaving evald; add it to judge.send or take it out of the prompt"
                        ))
                    continue
                }
                rubrics.append(rubric)
            } catch {
                problems.append(error)
            }
        }
        return (JudgeCatalog(rubrics: rubrics), problems)
    }

    /// What a single file cannot know: the config's endpoints and the other rubrics' names.
    static func check(
        _ rubric: JudgeRubric, endpoints: [String: EndpointConfig], defaultEndpoint: String?,
        loaded: [JudgeRubric]
    ) throws(JudgeRubricError) {
        let path = rubric.sourcePath
        // A template that compiles can still fail on a real trace only by its size; rendering the
        // example here catches that before the first trace arrives.
        _ = try rubric.render(.example)
        if let first = loaded.first(where: { $0.name == rubric.name }) {
            throw JudgeRubricError(
                path: path, line: rubric.keyLines["name"], key: "name",
                message: "\"\(rubric.name)\" is already the name of \(first.sourcePath); judge names must be unique (they name the metric judge:\(rubric.name))"
            )
        }
        // No endpoint at all is an install without judges yet (as in examples/): the judges are
        // skipped and `evald status` says how to enable them; not a configuration error.
        if endpoints.isEmpty, rubric.endpoint == nil { return }
        guard let endpoint = endpointName(of: rubric, defaultEndpoint: defaultEndpoint) else {
            throw JudgeRubricError(
                path: path, line: 1, key: "endpoint",
                message: "no endpoint to send it to: name one with endpoint: in the front matter, or set judge.default_endpoint in the config")
        }
        guard endpoints[endpoint] != nil else {
            let known = endpoints.keys.sorted()
            let defined = known.isEmpty ? " (no endpoint is defined)" : " (defined: \(known.joined(separator: ", ")))"
            if rubric.endpoint == nil {
                throw JudgeRubricError(
                    path: path, line: 1, key: "endpoint",
                    message: "judge.default_endpoint names \"\(endpoint)\", which is not defined under endpoints in the config\(defined)")
            }
            throw JudgeRubricError(
                path: path, line: rubric.keyLines["endpoint"], key: "endpoint",
                message: "\"\(endpoint)\" is not defined under endpoints in the config\(defined)")
        }
    }
}
