import AsyncHTTPClient
import ChuteAsync
import ChuteCore
import ChuteStore
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Delivers the HTTP outbox: claims due POSTs with a lease, sends each with a timeout, retries
/// failures with backoff (`HTTPDeliveryPolicy`), and keeps a delivery as undeliverable when its
/// attempts run out, counting `DestinationDeliveryFailures` for the function whose record it was.
///
/// At-least-once: a POST is removed from the outbox only after a 2xx answer, so a host that dies
/// mid-POST leaves the lease to expire and the POST is made again. One URL has at most
/// `perEndpointConcurrency` POSTs in flight; claims leave out URLs at that limit, so a slow or dead
/// endpoint never holds up the others.
public final class HTTPDeliveryService: Service, Sendable {
    let store: any HTTPOutboxStore
    let client: HTTPClient
    let owner: String
    let policy: HTTPDeliveryPolicy
    let metrics: FunctionMetrics
    let clock: @Sendable () -> Int64
    let logger: Logger
    /// Most POSTs in flight in all.
    let concurrency: Int
    private let signal = WakeSignal()
    private let inFlight = Mutex<[String: Int]>([:])
    private let counters = Mutex(Statistics())

    public struct Statistics: Sendable, Hashable {
        public var delivered = 0
        public var failedAttempts = 0
        public var undeliverable = 0
    }

    public init(store: any HTTPOutboxStore, client: HTTPClient = .shared, owner: String, policy: HTTPDeliveryPolicy = HTTPDeliveryPolicy(),
                metrics: FunctionMetrics = FunctionMetrics(), concurrency: Int = 64, clock: @escaping @Sendable () -> Int64, logger: Logger) {
        self.store = store
        self.client = client
        self.owner = owner
        self.policy = policy
        self.metrics = metrics
        self.concurrency = concurrency
        self.clock = clock
        self.logger = logger
    }

    public var statistics: Statistics { counters.withLock { $0 } }

    /// New deliveries were written: claim now rather than at the next poll.
    public func wake() { signal.wake() }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.deliver() }
    }

    /// Runs until cancelled; POSTs in flight finish (within their timeout) before it returns.
    public func deliver(pollMilliseconds: Int64 = 250) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                signal.reset()
                let (room, saturated) = inFlight.withLock { counts in
                    (concurrency - counts.values.reduce(0, +), Set(counts.filter { $0.value >= policy.perEndpointConcurrency }.keys))
                }
                if room > 0 {
                    do {
                        let claimed = try await store.claimHTTPDeliveries(
                            owner: owner, now: clock(), limit: room, leaseMilliseconds: policy.timeoutMilliseconds + 30_000,
                            excludingURLs: saturated)
                        if try await start(claimed, in: &group) { continue }
                    } catch {
                        logger.error("cannot claim HTTP deliveries; trying again", metadata: ["error": "\(error)"])
                    }
                }
                if signal.isRequested { continue }
                await signal.sleep(milliseconds: pollMilliseconds)
            }
        }
    }

    /// Starts the claimed POSTs that fit their URL's limit and gives the rest back; true when any started.
    private func start(_ claimed: [PendingHTTPDelivery], in group: inout DiscardingTaskGroup) async throws -> Bool {
        var started = false
        for pending in claimed {
            let url = pending.delivery.url
            let admitted = inFlight.withLock { counts in
                guard counts[url, default: 0] < policy.perEndpointConcurrency else { return false }
                counts[url, default: 0] += 1
                return true
            }
            guard admitted else {
                try await store.finishHTTPDelivery(id: pending.id, owner: owner, outcome: .released, now: clock())
                continue
            }
            started = true
            group.addTask { [self] in
                await attempt(pending)
                inFlight.withLock { counts in
                    counts[url, default: 1] -= 1
                    if counts[url] == 0 { counts[url] = nil }
                }
                wake()
            }
        }
        return started
    }

    private func attempt(_ pending: PendingHTTPDelivery) async {
        let delivery = pending.delivery
        let attempt = pending.attempts + 1
        var logger = logger
        logger[metadataKey: "requestId"] = "\(delivery.requestID)"
        // A URL stored before URLs were checked strictly never reaches the client: it is kept.
        guard HTTPEndpoint(delivery.url) != nil else {
            logger.error("HTTP delivery to an invalid URL; kept as undeliverable", metadata: ["url": "\(delivery.url.prefix(300))"])
            await finish(pending, .undeliverable(error: "the URL \(delivery.url.prefix(300)) is not a valid http(s) URL"))
            return
        }
        let failure: String
        do {
            var request = HTTPClientRequest(url: delivery.url)
            request.method = .POST
            for header in delivery.headers { request.headers.add(name: header.name, value: header.value) }
            request.headers.add(name: "X-Chute-Delivery-Attempt", value: String(attempt))
            request.body = .bytes(ByteBuffer(bytes: delivery.body))
            let response = try await client.execute(request, timeout: .milliseconds(policy.timeoutMilliseconds))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            if (200..<300).contains(response.status.code) {
                await finish(pending, .delivered)
                counters.withLock { $0.delivered += 1 }
                return
            }
            failure = "HTTP \(response.status.code) from \(delivery.url)"
        } catch {
            failure = "\(delivery.url): \(error)"
        }
        counters.withLock { $0.failedAttempts += 1 }
        if let delay = policy.delay(afterFailedAttempts: attempt) {
            logger.notice("HTTP delivery failed; trying again", metadata: ["attempt": "\(attempt)", "error": "\(failure)"])
            await finish(pending, .retry(dueAt: clock() + delay, error: failure))
        } else {
            logger.error("HTTP delivery failed after \(attempt) attempts; kept as undeliverable", metadata: ["error": "\(failure)"])
            await finish(pending, .undeliverable(error: failure))
            counters.withLock { $0.undeliverable += 1 }
            if let function = delivery.functionName { metrics.destinationDeliveryFailed(function) }
        }
    }

    private func finish(_ pending: PendingHTTPDelivery, _ outcome: HTTPDeliveryOutcome) async {
        do {
            try await store.finishHTTPDelivery(id: pending.id, owner: owner, outcome: outcome, now: clock())
        } catch {
            // The lease expires and the delivery is made again: at-least-once.
            logger.error("cannot record an HTTP delivery's outcome", metadata: ["error": "\(error)", "requestId": "\(pending.delivery.requestID)"])
        }
    }
}
