import CoreMetrics
import Synchronization

/// Per-mapping metrics, dimensioned by the mapping's UUID (and its function): `IteratorAge` as
/// Lambda names it (the age of a batch's last record when its processing ends), records and
/// batches processed, records discarded to the on-failure destination, and failed invocations.
public final class MappingMetrics: Sendable {
    private let factory: any MetricsFactory
    private let handles = Mutex<[String: Handles]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    private struct Handles: @unchecked Sendable {
        let iteratorAge: Timer
        let records, batches, failedInvocations, discardedRecords: Counter
    }

    private func handles(_ mapping: String, _ function: String) -> Handles {
        handles.withLock { table in
            if let existing = table[mapping] { return existing }
            let dimensions = [("EventSourceMappingUUID", mapping), ("FunctionName", function)]
            let counter = { (name: String) in Counter(label: name, dimensions: dimensions, factory: self.factory) }
            let made = Handles(
                iteratorAge: Timer(label: "IteratorAge", dimensions: dimensions, preferredDisplayUnit: .milliseconds, factory: factory),
                records: counter("EventSourceMappingRecordsProcessed"), batches: counter("EventSourceMappingBatches"),
                failedInvocations: counter("EventSourceMappingFailedInvocations"),
                discardedRecords: counter("EventSourceMappingDiscardedRecords"))
            table[mapping] = made
            return made
        }
    }

    func batchFinished(_ mapping: String, function: String, records: Int, failed: Bool, iteratorAgeMilliseconds: Int64?) {
        let handles = handles(mapping, function)
        handles.batches.increment()
        if failed {
            handles.failedInvocations.increment()
        } else {
            handles.records.increment(by: records)
        }
        if let age = iteratorAgeMilliseconds { handles.iteratorAge.recordMilliseconds(max(0, age)) }
    }

    func discarded(_ mapping: String, function: String, records: Int) {
        handles(mapping, function).discardedRecords.increment(by: records)
    }
}
