import ChuteCore
import Dispatch
import FoundationEssentials
import Synchronization
import Glibc

/// The embedded store: one SQLite file in WAL mode under the data directory.
///
/// Every operation runs on one serial queue. Operations that arrive while a transaction commits
/// wait, then go together into the next one (group commit): durability costs one fsync per group,
/// not per event. Single host: opening the file releases every lease, because the process that
/// held them is gone (a PostgreSQL store lets leases expire instead).
///
/// The hot path writes few rows: fresh events go into batch rows (`+Batches`), records into queue
/// segments (`+QueueSegments`); retries and events given back alone have rows of their own.
public final class SQLiteAsyncEventStore: AsyncEventStore, @unchecked Sendable {
    private let connection: SQLiteConnection
    private let queue = DispatchQueue(label: "chute.sqlite-store")
    private let pending = Mutex<(work: [Work], draining: Bool)>(([], false))
    private let writerCounters = Mutex(WriterStatistics())
    /// Where batched events are; touched only by work on `queue`.
    let batches = EventBatchIndex()

    private typealias Work = GroupCommitWork<SQLiteConnection>

    /// Opens (or creates) the store. The serving host releases the leases of its dead predecessor;
    /// a tool opening the file beside a running host (`chute events`) must not: `releaseLeases: false`.
    public init(path: String, releaseLeases: Bool = true) throws {
        connection = try SQLiteConnection(path: path)
        try connection.execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA foreign_keys = ON;
            PRAGMA cache_size = -65536;
            PRAGMA wal_autocheckpoint = 8192;
            CREATE TABLE IF NOT EXISTS async_events (
                request_id TEXT PRIMARY KEY,
                function_name TEXT NOT NULL,
                qualifier TEXT NOT NULL,
                payload BLOB NOT NULL,
                received_at INTEGER NOT NULL,
                invoke_count INTEGER NOT NULL,
                requeue_count INTEGER NOT NULL,
                due_at INTEGER NOT NULL,
                lane INTEGER NOT NULL,            -- 0 fresh, 1 retry or re-queue
                chain_depth INTEGER NOT NULL DEFAULT 0,
                failure_kind TEXT, error_type TEXT, error_message TEXT, stack_trace TEXT,
                lease_owner TEXT,
                lease_until INTEGER NOT NULL DEFAULT 0
            );
            DROP INDEX IF EXISTS async_events_due;
            DROP INDEX IF EXISTS async_events_claimable;
            -- Claims read only unleased events and expired leases: events held by a running host
            -- are in neither index, so a claim never scans past them. Unleased events are indexed
            -- by function first: a claim that leaves out a busy function never reads its backlog.
            CREATE INDEX IF NOT EXISTS async_events_claimable_by_function ON async_events (function_name, lane, due_at)
                WHERE lease_owner IS NULL;
            CREATE INDEX IF NOT EXISTS async_events_leased ON async_events (lease_until) WHERE lease_owner IS NOT NULL;
            CREATE TABLE IF NOT EXISTS failed_events (
                request_id TEXT PRIMARY KEY,
                function_name TEXT NOT NULL, qualifier TEXT NOT NULL, payload BLOB NOT NULL,
                received_at INTEGER NOT NULL, invoke_count INTEGER NOT NULL,
                condition TEXT NOT NULL, record TEXT NOT NULL, finished_at INTEGER NOT NULL,
                redriven_at INTEGER
            );
            CREATE TABLE IF NOT EXISTS undeliverable_records (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                request_id TEXT NOT NULL, destination TEXT NOT NULL, reason TEXT NOT NULL, record TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY);
            -- Each message insert is on the pipeline's hot path, so the table carries no more than
            -- its lookups need: message ids are random (UUID v7) and never looked up, so they are not
            -- indexed; deleteQueue removes a queue's messages itself instead of a foreign key check
            -- on every insert; seq is a plain rowid (no sqlite_sequence write per insert).
            CREATE TABLE IF NOT EXISTS queue_messages (
                seq INTEGER PRIMARY KEY,
                queue TEXT NOT NULL,
                message_id TEXT NOT NULL,
                body BLOB NOT NULL,
                attributes TEXT NOT NULL,
                sent_at INTEGER NOT NULL,
                visible_at INTEGER NOT NULL,
                receive_count INTEGER NOT NULL DEFAULT 0,
                receipt_handle TEXT
            );
            CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, seq);
            """)
        try connection.addMissingColumns(to: "queues", Self.queueColumns)
        try connection.addMissingColumns(to: "queue_messages", [("first_received_at", "INTEGER")])
        try connection.execute("""
            -- Retention drops messages by age.
            CREATE INDEX IF NOT EXISTS queue_messages_sent ON queue_messages (queue, sent_at);
            -- DeleteMessage and ChangeMessageVisibility find messages by receipt handle.
            CREATE INDEX IF NOT EXISTS queue_messages_receipts ON queue_messages (receipt_handle) WHERE receipt_handle IS NOT NULL;
            -- Redrive looks only at messages received before, never at the untouched backlog.
            CREATE INDEX IF NOT EXISTS queue_messages_received ON queue_messages (queue, visible_at) WHERE receive_count > 0;
            """)
        try connection.execute(Self.functionsSchema)
        try connection.execute(Self.batchSchema)
        try connection.execute(Self.segmentSchema)
        try connection.execute(Self.outboxSchema)
        try connection.execute(Self.messagingSchema)
        try connection.execute(Self.streamSchema)
        try connection.execute(Self.shardLeaseSchema)
        try Self.migrateShardLeases(connection)
        if releaseLeases {
            try connection.execute("UPDATE async_events SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL")
            try connection.execute("UPDATE event_batches SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL")
        }
        try indexBatches(connection)
    }

    // MARK: Group commit

    func perform<T: Sendable>(durable: Bool = true, _ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let work = Work(durable: durable, body, resuming: continuation)
            let startDrain = pending.withLock { state in
                state.work.append(work)
                defer { state.draining = true }
                return !state.draining
            }
            if startDrain { queue.async { self.drain() } }
        }
    }

    /// Commits everything pending in one transaction, again and again until nothing is pending.
    /// If the group fails, each item runs alone so one bad item fails only its own caller.
    private func drain() {
        while true {
            let batch: [Work] = pending.withLock { state in
                if state.work.isEmpty { state.draining = false }
                defer { state.work.removeAll() }
                return state.work
            }
            guard !batch.isEmpty else { return }
            let started = ContinuousClock.now
            let cpuStarted = Self.threadCPUNanoseconds()
            defer {
                let busy = ContinuousClock.now - started
                let cpu = Self.threadCPUNanoseconds() - cpuStarted
                writerCounters.withLock { counters in
                    counters.groups += 1
                    counters.operations += batch.count
                    counters.busyNanoseconds += busy.components.seconds * 1_000_000_000 + busy.components.attoseconds / 1_000_000_000
                    counters.cpuNanoseconds += cpu
                }
            }
            let durable = batch.contains(where: \.durable)
            if !durable { try? connection.execute("PRAGMA synchronous = OFF") }
            defer { if !durable { try? connection.execute("PRAGMA synchronous = FULL") } }
            do {
                try connection.transaction { () throws(StoreError) in
                    for work in batch { try work.run(connection) }
                    try flushBatches(connection)
                }
                batches.commit()
                batch.forEach { $0.done(.success(())) }
            } catch {
                batches.rollback()
                for work in batch {
                    do {
                        try connection.transaction { () throws(StoreError) in
                            try work.run(connection)
                            try flushBatches(connection)
                        }
                        batches.commit()
                        work.done(.success(()))
                    } catch {
                        batches.rollback()
                        work.done(.failure(error))
                    }
                }
            }
        }
    }

    /// What the single writer has done since the store opened: how busy it is, and how large its
    /// group commits are.
    public var writerStatistics: WriterStatistics { writerCounters.withLock { $0 } }

    static func threadCPUNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }


    // MARK: Events

    @discardableResult
    public func accept(_ events: [AsyncEvent], lease: EventLease?) async throws -> [AsyncEvent] {
        guard !events.isEmpty else { return [] }
        return try await perform { [self] connection throws(StoreError) in
            var stored: [AsyncEvent] = []
            for event in events {
                if EventBatchCodec.isBatchable(event) {
                    // Written as a batch row when the group commits.
                    let key = EventKey(event.requestID)
                    guard !batches.holds(key), try !Self.hasRow(connection, event.requestID) else { continue }
                    batches.buffer(event, key: key, lease: lease)
                    stored.append(event)
                } else if try insert(connection, event, lease: lease) {
                    stored.append(event)
                }
            }
            return stored
        }
    }

    /// Stores an event in a row of its own unless its request id is already stored; returns
    /// whether it did. `lane` 1 is for events that run again (retries, re-queues).
    @discardableResult
    func insert(_ connection: SQLiteConnection, _ event: AsyncEvent, lease: EventLease? = nil, lane: Int64 = 0) throws(StoreError) -> Bool {
        guard !batches.holds(EventKey(event.requestID)) else { return false }
        try connection.run("""
            INSERT OR IGNORE INTO async_events (request_id, function_name, qualifier, payload, received_at,
                invoke_count, requeue_count, due_at, lane, chain_depth, failure_kind, error_type, error_message, stack_trace,
                lease_owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(event.requestID), .text(event.functionName), .text(event.qualifier), .blob(event.payload),
                  .integer(event.receivedAtMilliseconds), .integer(Int64(event.invokeCount)),
                  .integer(Int64(event.requeueCount)), .integer(event.dueAtMilliseconds), .integer(lane), .integer(ChainPacking.pack(event)),
                  .optionalText(event.lastFailure?.kind.rawValue), .optionalText(event.lastFailure?.error.errorType),
                  .optionalText(event.lastFailure?.error.errorMessage),
                  .optionalText(event.lastFailure?.error.stackTrace.joined(separator: "\n")),
                  .optionalText(lease?.owner), .integer(lease?.untilMilliseconds ?? 0)])
        return connection.changes == 1
    }

    private static func hasRow(_ connection: SQLiteConnection, _ requestID: String) throws(StoreError) -> Bool {
        var found = false
        try connection.run("SELECT 1 FROM async_events WHERE request_id = ?", [.text(requestID)]) { _ in found = true }
        return found
    }

    public func claim(owner: String, now: Int64, limit: Int, leaseMilliseconds: Int64,
                      excluding: Set<String>) async throws -> [AsyncEvent] {
        guard limit > 0 else { return [] }
        let excluded = excluding.sorted()
        // Leases need not survive a crash: reopening the store releases them all.
        return try await perform(durable: false) { [self] connection throws(StoreError) in
            let claim = { (condition: String, bindings: [SQLiteValue], limit: Int) throws(StoreError) -> [AsyncEvent] in
                try Self.claim(connection, where: condition, bindings, owner: owner, now: now, limit: limit, lease: leaseMilliseconds,
                               excluding: excluded)
            }
            let retryShare = max(1, limit / 4)
            // Expired leases first: their holder died (or stalled) and they are the oldest work.
            var claimed = try claim("lease_owner IS NOT NULL AND lease_until <= ?", [.integer(now)], limit)
            for batch in try expiredBatches(connection, now: now, excluding: excluding) where claimed.count < limit {
                claimed += try leaseBatch(connection, batch.id, limit: limit - claimed.count, owner: owner, until: now + leaseMilliseconds)
            }
            // Due events are read function by function (the index leads with the function), so a
            // backlog of a function left out costs nothing to skip.
            let functions = try Self.claimableFunctions(connection).filter { !excluding.contains($0) }
            let lane = { (lane: Int64, limit: Int) throws(StoreError) -> [AsyncEvent] in
                try self.claimDue(connection, lane: lane, functions: functions, owner: owner, now: now, limit: limit, lease: leaseMilliseconds)
            }
            // A quarter of each claim is kept for due retries, the rest for fresh events; either
            // lane fills what the other leaves.
            claimed += try lane(1, retryShare - min(claimed.count, retryShare))
            claimed += try lane(0, limit - claimed.count)
            claimed += try lane(1, limit - claimed.count)
            return claimed
        }
    }

    /// Leases up to `limit` events matching `condition` (oldest due first).
    private static func claim(_ connection: SQLiteConnection, where condition: String, _ bindings: [SQLiteValue], owner: String,
                              now: Int64, limit: Int, lease: Int64, excluding: [String]) throws(StoreError) -> [AsyncEvent] {
        guard limit > 0 else { return [] }
        var events: [AsyncEvent] = []
        let exclusion = excluding.isEmpty ? "" : " AND function_name NOT IN (" + excluding.map { _ in "?" }.joined(separator: ", ") + ")"
        try connection.run("""
            UPDATE async_events SET lease_owner = ?, lease_until = ?
            WHERE request_id IN (SELECT request_id FROM async_events WHERE \(condition)\(exclusion) ORDER BY due_at LIMIT ?)
            RETURNING \(SharedStatements.claimedColumns)
            """, [.text(owner), .integer(now + lease)] + bindings + excluding.map { .text($0) } + [.integer(Int64(limit))]) { row in
            events.append(SharedStatements.claimedEvent(row))
        }
        return events.sorted { $0.dueAtMilliseconds < $1.dueAtMilliseconds }
    }

    /// The functions that have unleased events (in rows of their own or in batches), found by
    /// skipping through the claimable indexes one function at a time (a few index probes, however
    /// many events each has).
    private static func claimableFunctions(_ connection: SQLiteConnection) throws(StoreError) -> [String] {
        var functions: Set<String> = []
        for table in ["async_events", "event_batches"] {
            try connection.run("""
                WITH RECURSIVE f(name) AS (
                    SELECT (SELECT min(function_name) FROM \(table) WHERE lease_owner IS NULL)
                    UNION ALL
                    SELECT (SELECT min(function_name) FROM \(table) WHERE lease_owner IS NULL AND function_name > f.name)
                    FROM f WHERE f.name IS NOT NULL)
                SELECT name FROM f WHERE name IS NOT NULL
                """) { row in
                if let name = row.text(0) { functions.insert(name) }
            }
        }
        return functions.sorted()
    }

    /// Leases up to `limit` unleased events of `lane` due by `now` from `functions`, oldest due
    /// first across the functions. Fresh events (lane 0) come from rows of their own and from
    /// batch rows.
    private func claimDue(_ connection: SQLiteConnection, lane: Int64, functions: [String], owner: String, now: Int64,
                          limit: Int, lease: Int64) throws(StoreError) -> [AsyncEvent] {
        guard limit > 0, !functions.isEmpty else { return [] }
        enum Source { case row(Int64), batch(Int64) }
        var candidates: [(due: Int64, source: Source)] = []
        for function in functions {
            try connection.run("""
                SELECT rowid, due_at FROM async_events WHERE lease_owner IS NULL AND function_name = ? AND lane = ? AND due_at <= ?
                ORDER BY due_at LIMIT ?
                """, [.text(function), .integer(lane), .integer(now), .integer(Int64(limit))]) { row in
                candidates.append((row.integer(1), .row(row.integer(0))))
            }
            if lane == 0 {
                candidates += try dueBatches(connection, function: function, now: now, limit: limit).map { ($0.due, .batch($0.id)) }
            }
        }
        guard !candidates.isEmpty else { return [] }
        candidates.sort { $0.due < $1.due }
        var rows: [Int64] = []
        var events: [AsyncEvent] = []
        for candidate in candidates {
            let left = limit - rows.count - events.count
            guard left > 0 else { break }
            switch candidate.source {
            case .row(let rowid): rows.append(rowid)
            case .batch(let id): events += try leaseBatch(connection, id, limit: left, owner: owner, until: now + lease)
            }
        }
        if !rows.isEmpty {
            try connection.run("""
                UPDATE async_events SET lease_owner = ?, lease_until = ? WHERE rowid IN (SELECT value FROM json_each(?))
                RETURNING \(SharedStatements.claimedColumns)
                """, [.text(owner), .integer(now + lease), .text("[" + rows.map(String.init).joined(separator: ",") + "]")]) { row in
                events.append(SharedStatements.claimedEvent(row))
            }
        }
        return events.sorted { $0.dueAtMilliseconds < $1.dueAtMilliseconds }
    }

    public func release(_ requestIDs: [String], owner: String) async throws {
        guard !requestIDs.isEmpty else { return }
        try await perform { [self] connection throws(StoreError) in
            var batched: [(String, EventBatchIndex.Location)] = []
            for id in requestIDs {
                if let location = batches.location(of: EventKey(id)) {
                    batched.append((id, location))
                    continue
                }
                try connection.run("UPDATE async_events SET lease_owner = NULL, lease_until = 0 WHERE request_id = ? AND lease_owner = ?",
                                   [.text(id), .text(owner)])
            }
            try releaseBatched(batched, owner: owner, connection)
        }
    }

    @discardableResult
    public func settle(_ settlements: [Settlement], now: Int64) async throws -> SettleReport {
        guard !settlements.isEmpty else { return SettleReport() }
        return try await perform { [self] connection throws(StoreError) in
            var report = SettleReport()
            var queues: [String: QueueAttributes?] = [:]
            var touched = TouchedBatches()
            var segments = PendingSegments()
            for settlement in settlements {
                let event = settlement.event
                let key = EventKey(event.requestID)
                let location = batches.location(of: key)
                switch settlement.outcome {
                case .runAgain where location != nil:
                    // It leaves its batch for a row of its own, with its history.
                    guard try finishBatched(location!, key: key, owner: settlement.owner, touched: &touched, connection)
                    else { continue }
                    try insert(connection, event, lane: 1)
                    report.applied += 1
                case .runAgain:
                    if try SharedStatements.reschedule(connection, event, owner: settlement.owner) { report.applied += 1 }
                case .finished(let finished):
                    if let location {
                        guard try finishBatched(location, key: key, owner: settlement.owner, touched: &touched, connection)
                        else { continue }
                    } else {
                        try connection.run("DELETE FROM async_events WHERE request_id = ? AND lease_owner = ?",
                                           [.text(event.requestID), .text(settlement.owner)])
                        guard connection.changes == 1 else { continue }
                    }
                    report.applied += 1
                    if !finished.condition.isSuccess {
                        try connection.run("""
                            INSERT OR REPLACE INTO failed_events (request_id, function_name, qualifier, payload, received_at,
                                invoke_count, condition, record, finished_at, redriven_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                            """, [.text(event.requestID), .text(event.functionName), .text(event.qualifier), .blob(event.payload),
                                  .integer(event.receivedAtMilliseconds), .integer(Int64(event.invokeCount)),
                                  .text(finished.condition.rawValue), .text(finished.record), .integer(now)])
                    }
                    for delivery in finished.deliveries {
                        if let problem = try Self.deliver(connection, delivery, now: now, queues: &queues, into: &segments) {
                            try Self.keepUndeliverable(connection, requestID: event.requestID, destination: delivery.queue,
                                                       reason: problem, record: finished.record)
                            report.undelivered.append(UndeliveredQueueDelivery(
                                requestID: event.requestID, functionName: event.functionName, queue: delivery.queue, purpose: delivery.purpose))
                        }
                    }
                    for followUp in finished.followUps { try insert(connection, followUp) }
                    for delivery in finished.httpDeliveries { try Self.insertHTTPDelivery(connection, delivery, now: now) }
                    for (destination, reason) in finished.undeliverable {
                        try Self.keepUndeliverable(connection, requestID: event.requestID, destination: destination, reason: reason,
                                                   record: finished.record)
                    }
                }
            }
            try touched.write(in: self, connection)
            try Self.writeSegments(connection, segments, sentAt: now)
            return report
        }
    }

    static func keepUndeliverable(_ connection: SQLiteConnection, requestID: String, destination: String, reason: String,
                                  record: String) throws(StoreError) {
        try SharedStatements.keepUndeliverable(connection, requestID: requestID, destination: destination, reason: reason, record: record)
    }

    public func failedEvents(limit: Int) async throws -> [FailedEvent] {
        try await perform { connection throws(StoreError) in
            try SharedStatements.failedEvents(connection, where: "redriven_at IS NULL ORDER BY finished_at DESC, rowid DESC LIMIT ?", [.integer(Int64(limit))])
        }
    }

    public func failedEvent(requestID: String) async throws -> FailedEvent? {
        try await perform { connection throws(StoreError) in
            try SharedStatements.failedEvents(connection, where: "redriven_at IS NULL AND request_id = ?", [.text(requestID)]).first
        }
    }

    @discardableResult
    public func redrive(_ requestIDs: [String]?, now: Int64) async throws -> [String] {
        try await perform { [self] connection throws(StoreError) in
            var events: [AsyncEvent] = []
            let select = "SELECT request_id, function_name, qualifier, payload FROM failed_events WHERE redriven_at IS NULL"
            let collect: (SQLiteRow) throws(StoreError) -> Void = { row in
                events.append(AsyncEvent(requestID: row.text(0) ?? "", functionName: row.text(1) ?? "", qualifier: row.text(2) ?? "$LATEST",
                                         payload: row.blob(3), receivedAtMilliseconds: now))
            }
            if let requestIDs {
                for id in requestIDs { try connection.run(select + " AND request_id = ?", [.text(id)], row: collect) }
            } else {
                try connection.run(select, row: collect)
            }
            for event in events {
                try insert(connection, event)
                try connection.run("UPDATE failed_events SET redriven_at = ? WHERE request_id = ?", [.integer(now), .text(event.requestID)])
            }
            return events.map(\.requestID)
        }
    }

    public func undeliverableRecords(limit: Int) async throws -> [UndeliverableRecord] {
        try await perform { connection throws(StoreError) in try SharedStatements.undeliverableRecords(connection, limit: limit) }
    }
}

/// The embedded store's single writer since the store opened: transactions committed (group
/// commits), the operations they carried, and the time spent in them, by the clock (waits for the
/// disk included) and on the CPU. Busy time close to the wall time means the writer is what
/// limits throughput.
public struct WriterStatistics: Sendable, Hashable {
    public var groups = 0
    public var operations = 0
    public var busyNanoseconds: Int64 = 0
    public var cpuNanoseconds: Int64 = 0
}
