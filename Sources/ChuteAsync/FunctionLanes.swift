import ChuteCore
import Synchronization

/// Claimed events waiting for their function, one first-in-first-out lane per function, and the
/// runners draining each lane.
///
/// A lane has at most its function's concurrency in runners; each runner takes a chunk of events,
/// runs it on the function's pool in one hand-off, stores the results and comes back for more until
/// the lane is empty. Lanes are independent: a slow function fills only its own lane, and the
/// dispatcher stops claiming that function's events while its lane is full (`saturated`).
final class FunctionLanes: Sendable {
    private struct Lane {
        var waiting: [AsyncEvent] = []
        /// Index of the oldest waiting event (taking from the front is O(1); compacted now and then).
        var head = 0
        var runners = 0
        var count: Int { waiting.count - head }
    }

    private struct State {
        var lanes: [String: Lane] = [:]
        /// Events claimed and not yet settled: waiting or running.
        var held = 0
        /// Recent wall time per event of each function's chunks (pool hand-off included). Kept
        /// apart from the lanes, which come and go as they empty, so the pace is not forgotten.
        var nanosecondsPerEvent: [String: Int64] = [:]
    }

    /// The pace assumed for a function not run yet: 16 events to its first chunk.
    private static let initialNanosecondsPerEvent = chunkBudgetNanoseconds / 16

    private let state = Mutex(State())

    /// Most events handed to one runner at a time.
    static let chunkLimit = 1024
    /// About how long one chunk should run: long enough that hand-offs and commits are shared by
    /// many fast events, short enough that a record is never held back long by the rest of its
    /// chunk. A handler slower than this runs one event per chunk.
    static let chunkBudgetNanoseconds: Int64 = 2_000_000

    /// Events claimed and not yet settled.
    var held: Int { state.withLock { $0.held } }

    /// Queues claimed events in their functions' lanes. Returns one function name per runner to
    /// start, keeping each lane within `runnerLimit(function)` runners.
    func add(_ events: [AsyncEvent], runnerLimit: (String) -> Int) -> [String] {
        var byFunction: [String: [AsyncEvent]] = [:]
        for event in events { byFunction[event.functionName, default: []].append(event) }
        let limits = byFunction.keys.map { ($0, max(1, runnerLimit($0))) }
        return state.withLock { state in
            state.held += events.count
            var start: [String] = []
            for (function, limit) in limits {
                let added = byFunction[function] ?? []
                state.lanes[function, default: Lane()].waiting.append(contentsOf: added)
                let lane = state.lanes[function]!
                // Runners already started may all be busy with a chunk. Another one starts only if
                // the waiting events are more than a chunk's worth of the function's time: a slow
                // function's events then run side by side, while a fast function's wait a moment
                // for a busy runner and go in one larger chunk.
                let pace = state.nanosecondsPerEvent[function] ?? Self.initialNanosecondsPerEvent
                let worthARunner = lane.runners == 0 || Int64(lane.count) * pace >= Self.chunkBudgetNanoseconds
                let wanted = worthARunner ? min(limit - lane.runners, lane.count) : 0
                if wanted > 0 {
                    state.lanes[function]!.runners += wanted
                    start += Array(repeating: function, count: wanted)
                }
            }
            return start
        }
    }

    /// The next chunk for a runner of `function`, or nil when the lane is empty or `stop` is set:
    /// the runner is then counted off and must end. Chunks share a lane's backlog fairly among its
    /// runners, sized to about `chunkBudgetNanoseconds` of the function's recent pace.
    func nextChunk(for function: String, runnerLimit: Int, stop: Bool) -> [AsyncEvent]? {
        state.withLock { state in
            guard var lane = state.lanes.removeValue(forKey: function) else { return nil }
            defer { state.lanes[function] = lane.count == 0 && lane.runners == 0 ? nil : lane }
            // Too many runners after the function's concurrency was lowered: this one ends.
            if stop || lane.count == 0 || lane.runners > max(1, runnerLimit) {
                lane.runners -= 1
                return nil
            }
            let share = (lane.count + max(1, runnerLimit) - 1) / max(1, runnerLimit)
            let pace = state.nanosecondsPerEvent[function] ?? Self.initialNanosecondsPerEvent
            let budget = Int(Self.chunkBudgetNanoseconds / max(1, pace))
            let size = max(1, min(share, budget, Self.chunkLimit))
            let chunk = Array(lane.waiting[lane.head..<lane.head + size])
            lane.head += size
            if lane.head == lane.waiting.count {
                lane.waiting.removeAll(keepingCapacity: true)
                lane.head = 0
            } else if lane.head > 1024 && lane.head * 2 > lane.waiting.count {
                lane.waiting.removeFirst(lane.head)
                lane.head = 0
            }
            return chunk
        }
    }

    /// A runner ran a chunk of `events` in `nanoseconds`: the pace the next chunks are sized by
    /// (a moving average, so one slow event does not shrink every later chunk for long).
    func ran(_ function: String, events: Int, nanoseconds: Int64) {
        guard events > 0 else { return }
        let pace = max(1, nanoseconds / Int64(events))
        state.withLock { state in
            let old = state.nanosecondsPerEvent[function] ?? Self.initialNanosecondsPerEvent
            state.nanosecondsPerEvent[function] = (old * 3 + pace) / 4
        }
    }

    /// A runner stored the results of `count` events.
    func settled(_ count: Int) {
        state.withLock { $0.held -= count }
    }

    /// Functions whose lanes hold at least `backlogLimit(function)` waiting events: claims leave
    /// their events in the store until the lane drains.
    func saturated(backlogLimit: (String) -> Int) -> Set<String> {
        let counts = state.withLock { state in state.lanes.mapValues(\.count) }
        return Set(counts.filter { $0.value >= backlogLimit($0.key) }.keys)
    }

    /// Events of `function` waiting to start.
    func waiting(_ function: String) -> Int {
        state.withLock { $0.lanes[function]?.count ?? 0 }
    }

    /// Empties every lane (shutdown): the events were claimed but will not run here.
    func takeAllWaiting() -> [AsyncEvent] {
        state.withLock { state in
            var taken: [AsyncEvent] = []
            for (function, lane) in state.lanes {
                taken += lane.waiting[lane.head...]
                state.lanes[function]!.waiting = []
                state.lanes[function]!.head = 0
            }
            state.held -= taken.count
            return taken
        }
    }
}
