@testable import ChuteAsync
import ChuteCore
import Testing

/// Lanes hand each function's claimed events to at most its concurrency in runners, in chunks
/// sized by the function's pace.
@Suite struct FunctionLanesTests {
    func events(_ count: Int, for function: String) -> [AsyncEvent] {
        (0..<count).map { AsyncEvent(requestID: "\(function)-\($0)", functionName: function, payload: [], receivedAtMilliseconds: 0) }
    }

    @Test func runnersStayWithinEachFunctionsLimit() {
        let lanes = FunctionLanes()
        let started = lanes.add(events(10, for: "a") + events(1, for: "b"), runnerLimit: { $0 == "a" ? 2 : 5 })
        #expect(started.sorted() == ["a", "a", "b"])
        // More events for a start no more runners while two are draining it.
        #expect(lanes.add(events(10, for: "a"), runnerLimit: { _ in 2 }).isEmpty)
        #expect(lanes.held == 21)
    }

    @Test func eventsOfASlowFunctionArrivingOneByOneGetRunnersUpToTheLimit() {
        let lanes = FunctionLanes()
        lanes.ran("a", events: 1, nanoseconds: 50_000_000)
        #expect(lanes.add(events(1, for: "a"), runnerLimit: { _ in 2 }) == ["a"])
        // The first runner is busy with its event: the next event gets a runner of its own...
        #expect(lanes.nextChunk(for: "a", runnerLimit: 2, stop: false)?.count == 1)
        #expect(lanes.add(events(1, for: "a"), runnerLimit: { _ in 2 }) == ["a"])
        // ...and once both run, later events wait for one of them.
        #expect(lanes.add(events(1, for: "a"), runnerLimit: { _ in 2 }).isEmpty)
        #expect(lanes.waiting("a") == 2)
    }

    @Test func eventsOfAFastFunctionWaitForTheBusyRunnerToGoInOneChunk() {
        let lanes = FunctionLanes()
        for _ in 0..<20 { lanes.ran("fast", events: 100, nanoseconds: 100_000) }
        #expect(lanes.add(events(1, for: "fast"), runnerLimit: { _ in 2 }) == ["fast"])
        #expect(lanes.nextChunk(for: "fast", runnerLimit: 2, stop: false)?.count == 1)
        for _ in 0..<10 { #expect(lanes.add(events(1, for: "fast"), runnerLimit: { _ in 2 }).isEmpty) }
        #expect(lanes.waiting("fast") == 10)
    }

    @Test func chunksFollowTheFunctionsPaceAndKeepOrder() {
        let lanes = FunctionLanes()
        _ = lanes.add(events(3_000, for: "fast") + events(10, for: "slow"), runnerLimit: { _ in 1 })
        // A fast function (1 µs per event) gets chunks up to the limit...
        for _ in 0..<40 { lanes.ran("fast", events: 1_000, nanoseconds: 1_000_000) }
        let fast = lanes.nextChunk(for: "fast", runnerLimit: 1, stop: false)
        #expect(fast?.count == FunctionLanes.chunkLimit)
        #expect(fast?.first?.requestID == "fast-0")
        // ...a handler slower than the chunk budget runs one event at a time.
        for _ in 0..<8 { lanes.ran("slow", events: 1, nanoseconds: 50_000_000) }
        #expect(lanes.nextChunk(for: "slow", runnerLimit: 1, stop: false)?.map(\.requestID) == ["slow-0"])
        #expect(lanes.nextChunk(for: "slow", runnerLimit: 1, stop: false)?.map(\.requestID) == ["slow-1"])
    }

    @Test func aFullLaneIsSaturatedAndStoppingEndsRunners() {
        let lanes = FunctionLanes()
        _ = lanes.add(events(50, for: "a") + events(5, for: "b"), runnerLimit: { _ in 1 })
        #expect(lanes.saturated(backlogLimit: { _ in 10 }) == ["a"])
        #expect(lanes.nextChunk(for: "a", runnerLimit: 1, stop: true) == nil)
        let left = lanes.takeAllWaiting()
        #expect(left.count == 55)
        #expect(lanes.held == 0)
    }
}
