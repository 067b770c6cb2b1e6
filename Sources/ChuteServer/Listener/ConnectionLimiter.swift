import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps what connections can take from the host bounded: their number below a cap (a flood of
/// connections would use up the descriptors the store, the workers' pipes and `/metrics` need),
/// the time a request body may take to arrive, and the memory held by answers clients do not read.
///
/// Past the cap, a new connection takes the place of another, most harmless first: the
/// connection idle longest (no request in progress, as nginx reuses idle keep-alive
/// connections), then one still sending its request body, then one not reading its answer.
/// Connections whose request is complete and being answered are never closed. When there is no
/// other, the newcomer is refused with a 503 and `Connection: close`, which AWS clients retry.
/// The listener also stops accepting at a ceiling a little above the cap (`acceptCeiling`), so
/// the count holds while evicted connections are still closing.
final class ConnectionLimiter: Sendable {
    let limit: Int
    let rules: Rules
    private let state = Mutex(State())

    /// How connections must behave, with the defaults the host uses.
    struct Rules: Sendable {
        /// A request body must arrive at this rate on average (after `bodyGrace`), or the
        /// connection is closed: a body trickled a byte a second would otherwise hold its
        /// connection, and the host's shutdown, for ever.
        var minimumBodyBytesPerSecond = 16 * 1024
        var bodyGrace = TimeAmount.seconds(10)
        /// A connection whose client has not read its answer for this long is closed.
        var stalledWriteTimeout = TimeAmount.seconds(30)
        /// Answer bytes written but not yet taken by slow or absent readers, across connections;
        /// past it the most stalled connection is closed.
        var unflushedBytesBudget = 256 * 1_048_576
    }

    private struct State {
        var open: [ObjectIdentifier: Tracked] = [:]
        var unflushedBytes = 0
        var refused = 0
        var evicted = 0
    }

    enum Phase: Sendable {
        /// No request in progress.
        case idle
        /// A request head arrived; its body is still coming.
        case receiving
        /// The request is complete and being answered.
        case answering
    }

    private struct Tracked {
        let channel: any Channel
        var phase = Phase.idle
        /// When the phase began, or when the client stopped reading (monotonic nanoseconds).
        var since: UInt64
        var unwritableSince: UInt64?
        var unflushedBytes = 0
    }

    init(limit: Int, rules: Rules = Rules()) {
        self.limit = limit
        self.rules = rules
    }

    /// The listener's own ceiling: the cap plus room for connections being evicted or refused.
    var acceptCeiling: Int { limit + max(16, limit / 8) }

    var openConnections: Int { state.withLock { $0.open.count } }
    var statistics: (refused: Int, evicted: Int) { state.withLock { ($0.refused, $0.evicted) } }

    private static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    enum Admission {
        case admitted
        /// Admitted in place of this connection, which the caller closes.
        case admittedEvicting(any Channel)
        case refused
    }

    func opened(_ channel: any Channel) -> Admission {
        let now = Self.now
        return state.withLock { state in
            var admission = Admission.admitted
            if state.open.count >= limit {
                guard let victim = Self.evictable(state.open) else {
                    state.refused += 1
                    return .refused
                }
                admission = .admittedEvicting(Self.remove(victim, from: &state).channel)
                state.evicted += 1
            }
            state.open[ObjectIdentifier(channel)] = Tracked(channel: channel, since: now)
            return admission
        }
    }

    /// The connection to close first: idle longest, else receiving longest, else stalled longest.
    /// A scan, but only past the cap, and the cap is thousands.
    private static func evictable(_ open: [ObjectIdentifier: Tracked]) -> ObjectIdentifier? {
        var best: (id: ObjectIdentifier, rank: Int, since: UInt64)?
        for (id, tracked) in open {
            let rank: Int
            let since: UInt64
            switch tracked.phase {
            case .idle: (rank, since) = (0, tracked.since)
            case .receiving: (rank, since) = (1, tracked.since)
            case .answering:
                guard let stalled = tracked.unwritableSince else { continue }
                (rank, since) = (2, stalled)
            }
            if best == nil || (rank, since) < (best!.rank, best!.since) { best = (id, rank, since) }
        }
        return best?.id
    }

    private static func remove(_ id: ObjectIdentifier, from state: inout State) -> Tracked {
        let removed = state.open.removeValue(forKey: id)!
        state.unflushedBytes -= removed.unflushedBytes
        return removed
    }

    func phase(_ channel: any Channel, _ phase: Phase) {
        let now = Self.now
        state.withLock { state in
            guard state.open[ObjectIdentifier(channel)] != nil else { return }
            state.open[ObjectIdentifier(channel)]!.phase = phase
            state.open[ObjectIdentifier(channel)]!.since = now
        }
    }

    func writability(_ channel: any Channel, writable: Bool) {
        let now = Self.now
        state.withLock { state in
            guard state.open[ObjectIdentifier(channel)] != nil else { return }
            state.open[ObjectIdentifier(channel)]!.unwritableSince = writable ? nil : now
        }
    }

    /// `bytes` of an answer were handed to the channel (positive) or taken by the socket
    /// (negative). Returns a connection to close when answers nobody reads hold too much memory.
    func unflushed(_ channel: any Channel, _ bytes: Int) -> (any Channel)? {
        state.withLock { state in
            guard state.open[ObjectIdentifier(channel)] != nil else { return nil }
            state.open[ObjectIdentifier(channel)]!.unflushedBytes += bytes
            state.unflushedBytes += bytes
            guard bytes > 0, state.unflushedBytes > rules.unflushedBytesBudget else { return nil }
            // The connection holding the most among those whose clients stopped reading.
            var worst: (id: ObjectIdentifier, bytes: Int)?
            for (id, tracked) in state.open where tracked.unwritableSince != nil && tracked.unflushedBytes > (worst?.bytes ?? 0) {
                worst = (id, tracked.unflushedBytes)
            }
            guard let worst else { return nil }
            state.evicted += 1
            return Self.remove(worst.id, from: &state).channel
        }
    }

    func closed(_ channel: any Channel) {
        state.withLock { state in
            guard state.open[ObjectIdentifier(channel)] != nil else { return }
            _ = Self.remove(ObjectIdentifier(channel), from: &state)
        }
    }

    /// The handler each connection's pipeline gets (after HTTP decoding).
    func handler() -> ConnectionLimitHandler { ConnectionLimitHandler(limiter: self) }

    /// Hummingbird's accept-side ceiling, for `ApplicationConfiguration.availableConnectionsDelegate`.
    var ceiling: MaximumAvailableConnections { MaximumAvailableConnections(acceptCeiling) }
}

/// One connection's part of the `ConnectionLimiter`: registers the connection, follows its
/// requests in and answers out, enforces the body rate and the stalled-reader timeout, closes a
/// half-sent request when the host shuts down, and answers a refused connection's first request
/// with 503.
final class ConnectionLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limiter: ConnectionLimiter
    private var registered = false
    private var refused = false
    /// Requests read and not yet answered (HTTP/1.1 may pipeline them).
    private var inFlight = 0
    private var receivingBody = false
    private var bodyStarted = NIODeadline.now()
    private var bodyBytes = 0
    private var bodyCheck: Scheduled<Void>?
    private var stallCheck: Scheduled<Void>?

    /// How long a refused connection may take to send its request before it is simply closed.
    static let refusedGrace = TimeAmount.seconds(2)

    init(limiter: ConnectionLimiter) {
        self.limiter = limiter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !registered, !refused else { return }
        switch limiter.opened(context.channel) {
        case .admitted:
            registered = true
        case .admittedEvicting(let other):
            registered = true
            other.close(promise: nil)
        case .refused:
            refused = true
            let channel = context.channel
            context.eventLoop.scheduleTask(in: Self.refusedGrace) { channel.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyCheck?.cancel()
        stallCheck?.cancel()
        if registered { limiter.closed(context.channel) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if refused {
            if case .head = part { answerUnavailable(context) }
            return
        }
        switch part {
        case .head:
            inFlight += 1
            receivingBody = true
            bodyStarted = .now()
            bodyBytes = 0
            limiter.phase(context.channel, .receiving)
            scheduleBodyCheck(context)
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            receivingBody = false
            bodyCheck?.cancel()
            bodyCheck = nil
            limiter.phase(context.channel, .answering)
        }
        context.fireChannelRead(data)
    }

    /// Every connection is busy: this one gets a clean 503 for its first request, and closes.
    private func answerUnavailable(_ context: ChannelHandlerContext) {
        var fields = HTTPFields()
        fields[.connection] = "close"
        fields[.contentLength] = "0"
        fields[.retryAfter] = "1"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .serviceUnavailable, headerFields: fields))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Closes the connection if its body arrives slower than the minimum rate.
    private func scheduleBodyCheck(_ context: ChannelHandlerContext) {
        bodyCheck?.cancel()
        let loop = context.eventLoop.assumeIsolatedUnsafeUnchecked()
        bodyCheck = loop.scheduleTask(in: .seconds(5)) { [self] in
            guard receivingBody else { return }
            let elapsed = NIODeadline.now() - bodyStarted - limiter.rules.bodyGrace
            let expected = Int(max(0, elapsed.nanoseconds)) / 1_000_000_000 * limiter.rules.minimumBodyBytesPerSecond
            if bodyBytes < expected {
                context.close(promise: nil)
            } else {
                scheduleBodyCheck(context)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard registered else { return context.write(data, promise: promise) }
        var bytes = 0
        switch unwrapOutboundIn(data) {
        case .head: break
        case .body(let buffer): bytes = buffer.readableBytes
        case .end:
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 { limiter.phase(context.channel, .idle) }
        }
        guard bytes > 0 else { return context.write(data, promise: promise) }
        if let victim = limiter.unflushed(context.channel, bytes) { victim.close(promise: nil) }
        // Count the bytes as taken once the socket has them (or the connection is gone).
        let written = promise ?? context.eventLoop.makePromise()
        let channel = context.channel
        let limiter = limiter
        let taken = bytes
        written.futureResult.whenComplete { _ in _ = limiter.unflushed(channel, -taken) }
        context.write(data, promise: written)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        if registered { limiter.writability(context.channel, writable: writable) }
        stallCheck?.cancel()
        stallCheck = nil
        if !writable {
            // The client stopped reading its answer: give it a while, then close.
            let loop = context.eventLoop.assumeIsolatedUnsafeUnchecked()
            stallCheck = loop.scheduleTask(in: limiter.rules.stalledWriteTimeout) {
                if !context.channel.isWritable { context.close(promise: nil) }
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The host is shutting down: a request still being sent will not be answered.
        if event is ChannelShouldQuiesceEvent, receivingBody {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
