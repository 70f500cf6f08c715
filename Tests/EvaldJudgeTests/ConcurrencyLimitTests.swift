import EvaldHTTP
import EvaldTesting
import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import EvaldCore
@testable import EvaldJudge

@Suite struct ConcurrencyLimitTests {
    @Test func atMostConcurrencyRequestsAreInFlight() async throws {
        try await withStubJudge { stub, transport in
            stub.delay = 0.1
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL, concurrency: 3), apiKey: nil, transport: transport)
            let completions = try await withThrowingTaskGroup(of: JudgeCompletion.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await client.complete(JudgeRequest(prompt: "trace \(index)", temperature: 0, maxOutputTokens: 10))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(completions.count == 20)
            #expect(stub.requests.count == 20)
            #expect(stub.maxConcurrentRequests == 3)
        }
    }

    @Test func aCancelledWaiterLeavesTheQueueAndThePermitsAddUp() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()
        let waiter = testTask { () -> Bool in
            do {
                try await semaphore.acquire()
                return true
            } catch {
                return false
            }
        }
        try await waitUntil { semaphore.waitingCount == 1 }
        waiter.cancel()
        #expect(await waiter.value == false)
        semaphore.release()
        #expect(semaphore.availablePermits == 1)
    }

    @Test func waitersAreServedInOrder() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()
        let order = NIOLockedValueBox<[Int]>([])
        var waiters: [Task<Void, Never>] = []
        for index in 0..<3 {
            waiters.append(
                testTask {
                    try? await semaphore.acquire()
                    order.withLockedValue { $0.append(index) }
                    semaphore.release()
                })
            // Each waiter queues before the next starts.
            try await waitUntil { semaphore.waitingCount == index + 1 }
        }
        semaphore.release()
        for waiter in waiters { await waiter.value }
        #expect(order.withLockedValue { $0 } == [0, 1, 2])
        #expect(semaphore.availablePermits == 1)
    }

    @Test func aCallWaitingForAPermitCanBeCancelled() async throws {
        try await withStubJudge { stub, transport in
            stub.enqueue([.hang])
            let client = JudgeEndpointClient(
                endpoint: makeEndpoint(.openai, baseURL: stub.baseURL, timeout: 30, concurrency: 1), apiKey: nil,
                transport: transport)
            let first = testTask { await judgeError(client) }
            try await waitUntil { stub.requests.count == 1 }
            let second = testTask { await judgeError(client) }
            try await Task.sleep(nanoseconds: 50_000_000)
            second.cancel()
            let secondError = await second.value
            #expect(secondError?.kind == .cancelled)
            #expect(secondError?.attempts == 0)
            first.cancel()
            #expect(await first.value?.kind == .cancelled)
            #expect(stub.requests.count == 1)
        }
    }
}
