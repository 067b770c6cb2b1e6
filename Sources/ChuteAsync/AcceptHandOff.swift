import ChuteCore
import Synchronization

/// Accepted events passed straight to the running dispatcher instead of through a claim query.
///
/// While `run()` runs and has room, `accept` stores events already leased to this host and hands
/// them over in memory: the store is written once per event instead of written, then read back
/// and leased by a claim. Room is reserved before the store call so concurrent accepts never hand
/// over more than the dispatcher may hold; when the dispatcher has stopped by the time an accept
/// commits, the accept gives its leases back itself.
final class AcceptHandOff: Sendable {
    private struct State {
        var clock: (@Sendable () -> Int64)?
        /// Events of accepts still committing, counted against the hold limit.
        var reserved = 0
        var delivered: [AsyncEvent] = []
    }

    private let state = Mutex(State())

    /// `run()` started: accepts may lease events to it.
    func open(clock: @escaping @Sendable () -> Int64) {
        state.withLock { $0.clock = clock }
    }

    /// `run()` is stopping: no more hand-overs. Returns the events handed over but not yet taken.
    func close() -> [AsyncEvent] {
        state.withLock { state in
            state.clock = nil
            defer { state.delivered = [] }
            return state.delivered
        }
    }

    /// Reserves room for `count` events if the dispatcher runs and `admits(held + count)`;
    /// returns the time to lease from, or nil (the events are stored for a claim instead).
    func reserve(_ count: Int, admits: (_ heldAfter: Int) -> Bool) -> Int64? {
        state.withLock { state in
            guard let clock = state.clock, admits(state.reserved + state.delivered.count + count) else { return nil }
            state.reserved += count
            return clock()
        }
    }

    /// An accept committed `stored` of the `reserved` events it reserved room for. Returns false
    /// if the dispatcher stopped meanwhile: the caller must give the leases back.
    func deliver(_ stored: [AsyncEvent], reserved: Int) -> Bool {
        state.withLock { state in
            state.reserved -= reserved
            guard state.clock != nil else { return false }
            state.delivered += stored
            return true
        }
    }

    /// An accept that reserved room failed.
    func cancel(reserved: Int) {
        state.withLock { $0.reserved -= reserved }
    }

    /// Events handed over since the last call.
    func take() -> [AsyncEvent] {
        state.withLock { state in
            defer { state.delivered = [] }
            return state.delivered
        }
    }

    var pending: Int { state.withLock { $0.reserved + $0.delivered.count } }
}
