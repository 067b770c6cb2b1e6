import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps the number of open connections under a cap, so that a flood of connections can never use
/// up the host's descriptors (the store, the workers' pipes and `/metrics` need them too).
///
/// Past the cap, a new connection first takes the place of the connection that has been idle
/// longest (no request in progress), as nginx reuses idle keep-alive connections: an attacker
/// holding thousands of idle connections cannot lock out a client that sends requests. Only when
/// every connection is busy is the newcomer refused, with a 503 and `Connection: close`, which
/// AWS clients retry. The listener also stops accepting at a hard ceiling a little above the cap
/// (`acceptCeiling`), so the count holds even while evicted connections are still closing.
final class ConnectionLimiter: Sendable {
    let limit: Int
    private let state = Mutex(State())

    private struct State {
        var open: [ObjectIdentifier: Tracked] = [:]
        var refused = 0
        var evicted = 0
    }

    private struct Tracked {
        let channel: any Channel
        /// Requests read and not yet answered.
        var inFlight = 0
        /// When the connection last became idle (monotonic nanoseconds).
        var idleSince: UInt64
    }

    init(limit: Int) {
        self.limit = limit
    }

    /// The listener's own ceiling: the cap plus room for connections being evicted or refused.
    var acceptCeiling: Int { limit + max(16, limit / 8) }

    var openConnections: Int { state.withLock { $0.open.count } }
    var statistics: (refused: Int, evicted: Int) { state.withLock { ($0.refused, $0.evicted) } }

    enum Admission {
        case admitted
        /// Admitted in place of this idle connection, which the caller closes.
        case admittedEvicting(any Channel)
        case refused
    }

    func opened(_ channel: any Channel) -> Admission {
        let now = DispatchTime.now().uptimeNanoseconds
        return state.withLock { state in
            guard state.open.count >= limit else {
                state.open[ObjectIdentifier(channel)] = Tracked(channel: channel, idleSince: now)
                return .admitted
            }
            // Oldest idle connection: a scan, but only past the cap, and the cap is thousands.
            var oldest: (ObjectIdentifier, UInt64)?
            for (id, tracked) in state.open where tracked.inFlight == 0 && tracked.idleSince < (oldest?.1 ?? .max) {
                oldest = (id, tracked.idleSince)
            }
            guard let (victim, _) = oldest, let evicted = state.open.removeValue(forKey: victim) else {
                state.refused += 1
                return .refused
            }
            state.evicted += 1
            state.open[ObjectIdentifier(channel)] = Tracked(channel: channel, idleSince: now)
            return .admittedEvicting(evicted.channel)
        }
    }

    func requestStarted(_ channel: any Channel) {
        state.withLock { $0.open[ObjectIdentifier(channel)]?.inFlight += 1 }
    }

    func requestAnswered(_ channel: any Channel) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { state in
            guard var tracked = state.open[ObjectIdentifier(channel)] else { return }
            tracked.inFlight = max(0, tracked.inFlight - 1)
            if tracked.inFlight == 0 { tracked.idleSince = now }
            state.open[ObjectIdentifier(channel)] = tracked
        }
    }

    func closed(_ channel: any Channel) {
        _ = state.withLock { $0.open.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// The handler each connection's pipeline gets (after HTTP decoding).
    func handler() -> ConnectionLimitHandler { ConnectionLimitHandler(limiter: self) }

    /// Hummingbird's accept-side ceiling, for `ApplicationConfiguration.availableConnectionsDelegate`.
    var ceiling: MaximumAvailableConnections { MaximumAvailableConnections(acceptCeiling) }
}

/// One connection's part of the `ConnectionLimiter`: registers the connection, follows its
/// requests in and responses out, and answers a refused connection's first request with 503.
final class ConnectionLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limiter: ConnectionLimiter
    private var registered = false
    private var refused = false

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
        case .admittedEvicting(let idle):
            registered = true
            idle.close(promise: nil)
        case .refused:
            refused = true
            let channel = context.channel
            context.eventLoop.scheduleTask(in: Self.refusedGrace) { channel.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if registered { limiter.closed(context.channel) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if refused {
            // Every connection is busy: this one gets a clean 503 for its first request, and closes.
            if case .head = part {
                var fields = HTTPFields()
                fields[.connection] = "close"
                fields[.contentLength] = "0"
                fields[.retryAfter] = "1"
                context.write(wrapOutboundOut(.head(HTTPResponse(status: .serviceUnavailable, headerFields: fields))), promise: nil)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
            return
        }
        if case .head = part { limiter.requestStarted(context.channel) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if registered, case .end = unwrapOutboundIn(data) { limiter.requestAnswered(context.channel) }
        context.write(data, promise: promise)
    }
}
