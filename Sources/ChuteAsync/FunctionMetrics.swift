import CoreMetrics
import Synchronization

/// Lambda's per-function metrics, under AWS's names with a `FunctionName` dimension, through
/// swift-metrics: whatever factory the host gives (Prometheus in `chute serve`, nothing in tests
/// that do not look). Handles are made once per function and reused.
public final class FunctionMetrics: Sendable {
    private let factory: any MetricsFactory
    private let handles = Mutex<[String: Handles]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    private struct Handles: @unchecked Sendable {
        let invocations, errors, throttles, eventsReceived, eventsDropped, destinationDeliveryFailures, deadLetterErrors: Counter
        /// Run time of each invocation (a histogram in seconds).
        let duration: Timer
        /// How long an event waited between being accepted and an attempt starting.
        let eventAge: Timer
        let concurrentExecutions: Meter
    }

    private func handles(_ function: String) -> Handles {
        handles.withLock { table in
            if let existing = table[function] { return existing }
            let dimensions = [("FunctionName", function)]
            let counter = { (name: String) in Counter(label: name, dimensions: dimensions, factory: self.factory) }
            let made = Handles(
                invocations: counter("Invocations"), errors: counter("Errors"), throttles: counter("Throttles"),
                eventsReceived: counter("AsyncEventsReceived"), eventsDropped: counter("AsyncEventsDropped"),
                destinationDeliveryFailures: counter("DestinationDeliveryFailures"), deadLetterErrors: counter("DeadLetterErrors"),
                duration: Timer(label: "Duration", dimensions: dimensions, preferredDisplayUnit: .milliseconds, factory: factory),
                eventAge: Timer(label: "AsyncEventAge", dimensions: dimensions, preferredDisplayUnit: .milliseconds, factory: factory),
                concurrentExecutions: Meter(label: "ConcurrentExecutions", dimensions: dimensions, factory: factory))
            table[function] = made
            return made
        }
    }

    /// An invocation starts running (sync or async); pair with `finished`.
    public func started(_ function: String) { handles(function).concurrentExecutions.increment() }

    /// An invocation ran to an outcome (success or function error), taking `durationNanoseconds`.
    public func finished(_ function: String, durationNanoseconds: Int64, functionError: Bool) {
        let handles = handles(function)
        handles.concurrentExecutions.decrement()
        handles.invocations.increment()
        if functionError { handles.errors.increment() }
        handles.duration.recordNanoseconds(durationNanoseconds)
    }

    /// The invocation never ran (throttle, host failure); pair with `started`.
    public func abandoned(_ function: String) { handles(function).concurrentExecutions.decrement() }

    public func throttled(_ function: String) { handles(function).throttles.increment() }
    public func received(_ function: String, count: Int = 1) { handles(function).eventsReceived.increment(by: count) }
    public func eventAge(_ function: String, milliseconds: Int64) { handles(function).eventAge.recordMilliseconds(max(0, milliseconds)) }
    public func dropped(_ function: String) { handles(function).eventsDropped.increment() }
    public func destinationDeliveryFailed(_ function: String) { handles(function).destinationDeliveryFailures.increment() }
    public func deadLetterFailed(_ function: String) { handles(function).deadLetterErrors.increment() }
}
