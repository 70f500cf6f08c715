import EvaldCore
import EvaldTesting
import Testing

func randomTraceID(_ rng: inout SplitMix64) -> String {
    let hex = Array("0123456789abcdef")
    return String((0..<32).map { _ in hex[Int(rng.next() % 16)] })
}

@Suite struct TraceSamplerTests {
    @Test func specTestVectorIsKeptAtOnePercent() {
        let id = "75b15b0be23b7ac193fe040727553980"
        let r = TraceSampler.randomness(traceID: id)
        #expect(hex56(r) == "0xfe040727553980")
        #expect(hex56(TraceSampler.threshold(rate: 0.01)) == "0xfd70a3d70a3d70")
        #expect(TraceSampler.isKept(randomness: r, rate: 0.01))
        #expect(!TraceSampler.isKept(randomness: r, rate: 0.001))
    }

    @Test func thresholdEdges() {
        #expect(TraceSampler.threshold(rate: 1) == 0)
        #expect(TraceSampler.threshold(rate: 0) == TraceSampler.randomnessLimit)
        #expect(!TraceSampler.isKept(randomness: TraceSampler.randomnessLimit - 1, rate: 0))
        #expect(TraceSampler.isKept(randomness: 0, rate: 1))
        #expect(TraceSampler.threshold(rate: 0.5) == 1 << 55)
    }

    @Test func lowerRateSampleIsSubsetOfHigherRate() async {
        await offPool {
            var rng = SplitMix64(state: 1)
            var kept1 = 0, kept5 = 0
            for _ in 0..<50_000 {
                let r = TraceSampler.randomness(traceID: randomTraceID(&rng))
                let at1 = TraceSampler.isKept(randomness: r, rate: 0.01)
                let at5 = TraceSampler.isKept(randomness: r, rate: 0.05)
                if at1 { kept1 += 1; #expect(at5) }
                if at5 { kept5 += 1 }
            }
            #expect(kept1 > 0 && kept5 > kept1)
        }
    }

    @Test(arguments: [0.01, 0.05, 0.25])
    func keptFractionIsWithinThreeStandardErrors(rate: Double) async {
        await offPool {
            var rng = SplitMix64(state: UInt64(rate * 1e6))
            let n = 200_000
            var kept = 0
            for _ in 0..<n where TraceSampler.isKept(randomness: TraceSampler.randomness(traceID: randomTraceID(&rng)), rate: rate) {
                kept += 1
            }
            let standardError = (rate * (1 - rate) / Double(n)).squareRoot()
            #expect(abs(Double(kept) / Double(n) - rate) < 3 * standardError)
        }
    }

    @Test func shardsPartitionTheIDs() async {
        await offPool {
            var rng = SplitMix64(state: 7)
            let shards = (1...4).map { Shard(index: $0, count: 4) }
            var perShard = [0, 0, 0, 0]
            for _ in 0..<20_000 {
                let r = TraceSampler.randomness(traceID: randomTraceID(&rng))
                let owners = shards.indices.filter { shards[$0].contains(r) }
                #expect(owners.count == 1)
                perShard[owners[0]] += 1
            }
            #expect(perShard.allSatisfy { $0 > 4_500 && $0 < 5_500 })
        }
    }

    @Test func shardParsing() {
        #expect(Shard(parsing: "2/4") == Shard(index: 2, count: 4))
        #expect(Shard(parsing: "0/4") == nil)
        #expect(Shard(parsing: "5/4") == nil)
        #expect(Shard(parsing: "x") == nil)
    }

    @Test func nonHexIDsAreHashedWithFNV1a() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the reference test vector); R is its top 56 bits.
        #expect(TraceSampler.randomness(traceID: "a") == 0xaf63dc4c8601ec8c >> 8)
        // 32 characters that are not all hex are hashed too.
        let notHex = "zz" + String(repeating: "0", count: 30)
        var bytes = Array(notHex.utf8)
        let expected = bytes.withUnsafeMutableBytes { TraceSampler.fnv1a64(UnsafeRawBufferPointer($0)) } >> 8
        #expect(TraceSampler.randomness(traceID: notHex) == expected)
    }

    @Test func explicitRandomnessFromTraceStateWins() {
        let id = "00000000000000000000000000000000"
        #expect(TraceSampler.randomness(traceID: id, traceState: "vendor=x,ot=th:0;rv:fe040727553980") == 0xfe040727553980)
        #expect(TraceSampler.randomness(traceID: id, traceState: "ot=th:0") == 0)
    }

    @Test func routeRatesUseTheFirstMatchingGlob() {
        let sampler = TraceSampler(globalRate: 0.01, routeRates: [(Glob("refunds-*"), 0.05), (Glob("*"), 0.02)])
        #expect(sampler.rate(forRoute: "refunds-eu") == 0.05)
        #expect(sampler.rate(forRoute: "support") == 0.02)
        #expect(sampler.rate(forRoute: nil) == 0.01)
        #expect(sampler.lowestThreshold == TraceSampler.threshold(rate: 0.05))
    }

    @Test func globMatching() {
        #expect(Glob("*").matches(""))
        #expect(Glob("extract-*").matches("extract-order"))
        #expect(!Glob("extract-*").matches("support-chat"))
        #expect(Glob("a?c").matches("abc"))
        #expect(Glob("*-chat").matches("support-chat"))
        #expect(!Glob("*-chat").matches("support-chats"))
    }
}
