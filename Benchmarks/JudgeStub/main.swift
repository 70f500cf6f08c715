// evald-judge-stub: a stub judge API for the judge benchmark.
//
//   evald-judge-stub --delay 0.2 [--port N] [--score N] [--compute S [--serialize]] [--max-tokens N]
//
// Answers every OpenAI or Anthropic request with {"score": 4, "reason": "ok"} after the
// delay (a judge model's typical latency is what the benchmark measures against), prints
// "port=N" once it listens, and runs until killed. --score sets the score it answers
// (default 4; 5 makes a near-perfect judge for the load benchmark). --compute S makes each
// request take S seconds of "compute", --serialize one request at a time, abandoned ones
// included (a llama.cpp server with one slot on a CPU); --max-tokens N cuts replies at N tokens
// with finish_reason "length".
import EvaldTesting
import Foundation

func usage(_ problem: String) -> Never {
    FileHandle.standardError.write(
        Data(
            "evald-judge-stub: \(problem)\nusage: evald-judge-stub --delay SECONDS [--port N] [--score N] [--compute SECONDS [--serialize]] [--max-tokens N]\n"
                .utf8))
    exit(2)
}

var delay = 0.0
var port = 0
var score = 4
var compute = 0.0
var serialize = false
var maxTokens: Int?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--delay":
        guard let value = arguments.popFirst().flatMap(Double.init), value >= 0, value.isFinite else { usage("--delay needs seconds >= 0") }
        delay = value
    case "--port":
        guard let value = arguments.popFirst().flatMap(Int.init), (0...65535).contains(value) else { usage("--port needs 0...65535") }
        port = value
    case "--score":
        guard let value = arguments.popFirst().flatMap(Int.init), (0...100).contains(value) else { usage("--score needs 0...100") }
        score = value
    case "--compute":
        guard let value = arguments.popFirst().flatMap(Double.init), value >= 0, value.isFinite else { usage("--compute needs seconds >= 0") }
        compute = value
    case "--serialize":
        serialize = true
    case "--max-tokens":
        guard let value = arguments.popFirst().flatMap(Int.init), value > 0 else { usage("--max-tokens needs a number > 0") }
        maxTokens = value
    case "-h", "--help":
        usage("a stub judge API")
    default:
        usage("unknown argument \(argument)")
    }
}

let answer = #"{"score": \#(score), "reason": "ok"}"#
let stub: StubJudgeServer
do {
    stub = try await StubJudgeServer.start(port: port) { _ in answer }
} catch {
    FileHandle.standardError.write(Data("evald-judge-stub: cannot listen on 127.0.0.1:\(port): \(error)\n".utf8))
    exit(1)
}
stub.delay = delay
stub.computeSeconds = compute
stub.serialize = serialize
stub.maxTokens = maxTokens
// Written unbuffered: the benchmark script reads this line through a pipe.
FileHandle.standardOutput.write(Data("port=\(stub.port)\n".utf8))
while true {
    try await Task.sleep(nanoseconds: 3_600 * 1_000_000_000)
}
