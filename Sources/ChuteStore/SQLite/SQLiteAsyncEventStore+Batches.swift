import ChuteCore

/// Fresh events stored in batch rows (`event_batches`): one row per function per group commit
/// (at most `EventBatchIndex.eventsPerRow` events), leased, claimed and settled as a row. An
/// event that must run again, or is given back alone, moves to a row of its own in
/// `async_events`; the batch marks it done. A row whose events are all done is deleted.
extension SQLiteAsyncEventStore {
    static let batchSchema = """
        CREATE TABLE IF NOT EXISTS event_batches (
            id INTEGER PRIMARY KEY,
            function_name TEXT NOT NULL,
            due_at INTEGER NOT NULL,
            lease_owner TEXT,
            lease_until INTEGER NOT NULL DEFAULT 0,
            event_count INTEGER NOT NULL,
            done BLOB NOT NULL,
            -- Last: marking events done rewrites the row in place, and only its changed pages.
            events BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS event_batches_claimable ON event_batches (function_name, due_at) WHERE lease_owner IS NULL;
        CREATE INDEX IF NOT EXISTS event_batches_leased ON event_batches (lease_until) WHERE lease_owner IS NOT NULL;
        """

    /// A batch row as claims and settlements read it (settlements leave `events` empty: they need
    /// only the holder and the done marks).
    struct BatchRow {
        var id: Int64
        var functionName: String
        var owner: String?
        var done: DoneEvents
        var events: [AsyncEvent]
    }

    /// Fills the in-memory index from the rows (opening the store).
    func indexBatches(_ connection: SQLiteConnection) throws(StoreError) {
        var rows: [BatchRow] = []
        try connection.run("SELECT id, function_name, lease_owner, event_count, done, events FROM event_batches") { row throws(StoreError) in
            rows.append(try Self.batchRow(row))
        }
        for row in rows {
            for (slot, event) in row.events.enumerated() where !row.done.contains(slot) {
                batches.setLocation(EventBatchIndex.Location(batch: row.id, slot: slot), of: EventKey(event.requestID))
            }
        }
        batches.commit()
    }

    /// Writes the open transaction's buffered events as batch rows.
    func flushBatches(_ connection: SQLiteConnection) throws(StoreError) {
        for (key, buffer) in batches.takeBuffers() {
            for events in EventBatchIndex.rows(of: buffer.events) {
                let id = try insertBatch(connection, events, functionName: key.functionName, owner: key.owner, leaseUntil: buffer.leaseUntil)
                for (slot, index) in events.indices.enumerated() {
                    batches.setLocation(EventBatchIndex.Location(batch: id, slot: slot), of: buffer.keys[index])
                }
            }
        }
    }

    private func insertBatch(_ connection: SQLiteConnection, _ events: ArraySlice<AsyncEvent>, functionName: String, owner: String?,
                             leaseUntil: Int64) throws(StoreError) -> Int64 {
        let due = events.map(\.dueAtMilliseconds).min() ?? 0
        try connection.run("""
            INSERT INTO event_batches (function_name, due_at, lease_owner, lease_until, event_count, done, events) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(functionName), .integer(due), .optionalText(owner), .integer(owner == nil ? 0 : leaseUntil),
                  .integer(Int64(events.count)), .blob(DoneEvents(count: events.count).bits), .blob(EventBatchCodec.encode(events))])
        return connection.lastInsertRowID
    }

    static func batchRow(_ row: SQLiteRow, withEvents: Bool = true) throws(StoreError) -> BatchRow {
        let functionName = row.text(1) ?? ""
        return BatchRow(id: row.integer(0), functionName: functionName, owner: row.text(2),
                        done: DoneEvents(bits: row.blob(4), count: Int(row.integer(3))),
                        events: withEvents ? try EventBatchCodec.decode(row.blob(5), functionName: functionName) : [])
    }

    func readBatch(_ connection: SQLiteConnection, _ id: Int64, withEvents: Bool = true) throws(StoreError) -> BatchRow? {
        var batch: BatchRow?
        let columns = withEvents ? "events" : "NULL"
        try connection.run("SELECT id, function_name, lease_owner, event_count, done, \(columns) FROM event_batches WHERE id = ?",
                           [.integer(id)]) { row throws(StoreError) in
            batch = try Self.batchRow(row, withEvents: withEvents)
        }
        return batch
    }

    /// Stores the batch's done marks, or deletes the row once every event is done.
    func writeDone(_ connection: SQLiteConnection, _ batch: BatchRow) throws(StoreError) {
        if batch.done.isComplete {
            try connection.run("DELETE FROM event_batches WHERE id = ?", [.integer(batch.id)])
        } else {
            try connection.run("UPDATE event_batches SET done = ? WHERE id = ?", [.blob(batch.done.bits), .integer(batch.id)])
        }
    }

    // MARK: Claims

    /// A claimable batch row: its id, when it is due, how many of its events are not done.
    struct BatchCandidate {
        var id: Int64
        var functionName: String
        var due: Int64
        var remaining: Int
    }

    /// Unleased batch rows of `function` due by `now`, oldest first.
    func dueBatches(_ connection: SQLiteConnection, function: String, now: Int64, limit: Int) throws(StoreError) -> [BatchCandidate] {
        var candidates: [BatchCandidate] = []
        try connection.run("""
            SELECT id, due_at, event_count, done FROM event_batches WHERE lease_owner IS NULL AND function_name = ? AND due_at <= ?
            ORDER BY due_at LIMIT ?
            """, [.text(function), .integer(now), .integer(Int64(limit))]) { row in
            candidates.append(BatchCandidate(id: row.integer(0), functionName: function, due: row.integer(1),
                                             remaining: DoneEvents(bits: row.blob(3), count: Int(row.integer(2))).remaining))
        }
        return candidates
    }

    /// Batch rows whose lease expired by `now`, oldest due first.
    func expiredBatches(_ connection: SQLiteConnection, now: Int64, excluding: Set<String>) throws(StoreError) -> [BatchCandidate] {
        var candidates: [BatchCandidate] = []
        try connection.run("""
            SELECT id, function_name, due_at, event_count, done FROM event_batches WHERE lease_owner IS NOT NULL AND lease_until <= ?
            ORDER BY due_at
            """, [.integer(now)]) { row in
            let function = row.text(1) ?? ""
            guard !excluding.contains(function) else { return }
            candidates.append(BatchCandidate(id: row.integer(0), functionName: function, due: row.integer(2),
                                             remaining: DoneEvents(bits: row.blob(4), count: Int(row.integer(3))).remaining))
        }
        return candidates
    }

    /// Leases up to `limit` of the batch row's events that are not done: the whole row when they
    /// all fit, or else the first `limit` of them, moved to a new row of their own.
    func leaseBatch(_ connection: SQLiteConnection, _ id: Int64, limit: Int, owner: String, until: Int64) throws(StoreError) -> [AsyncEvent] {
        guard limit > 0, var batch = try readBatch(connection, id) else { return [] }
        let pending = batch.events.indices.filter { !batch.done.contains($0) }
        if pending.count <= limit {
            try connection.run("UPDATE event_batches SET lease_owner = ?, lease_until = ? WHERE id = ?",
                               [.text(owner), .integer(until), .integer(id)])
            return pending.map { batch.events[$0] }
        }
        let taken = pending.prefix(limit)
        let moved = taken.map { batch.events[$0] }
        for slot in taken { batch.done.insert(slot) }
        try writeDone(connection, batch)
        let newID = try insertBatch(connection, moved[...], functionName: batch.functionName, owner: owner, leaseUntil: until)
        for (slot, event) in moved.enumerated() {
            batches.setLocation(EventBatchIndex.Location(batch: newID, slot: slot), of: EventKey(event.requestID))
        }
        return moved
    }

    // MARK: Settling and giving back

    /// The batch rows a settle or release touches, read once and written once at the end.
    struct TouchedBatches {
        var rows: [Int64: BatchRow?] = [:]

        mutating func row(_ id: Int64, in store: SQLiteAsyncEventStore, _ connection: SQLiteConnection) throws(StoreError) -> BatchRow? {
            if let known = rows[id] { return known }
            let row = try store.readBatch(connection, id, withEvents: false)
            rows[id] = .some(row)
            return row
        }

        func write(in store: SQLiteAsyncEventStore, _ connection: SQLiteConnection) throws(StoreError) {
            for case let row? in rows.values { try store.writeDone(connection, row) }
        }
    }

    /// Marks a batched event done for its lease holder `owner`; false if `owner` no longer holds
    /// its row (another host took it over) or it is done already.
    func finishBatched(_ location: EventBatchIndex.Location, key: EventKey, owner: String, touched: inout TouchedBatches,
                       _ connection: SQLiteConnection) throws(StoreError) -> Bool {
        guard var batch = try touched.row(location.batch, in: self, connection), batch.owner == owner,
              location.slot < batch.done.count, !batch.done.contains(location.slot) else { return false }
        batch.done.insert(location.slot)
        touched.rows[location.batch] = .some(batch)
        batches.setLocation(nil, of: key)
        return true
    }

    /// Gives back batched events `owner` holds: a row whose every pending event is given back is
    /// unleased as it is; events given back from a row partly still running move to rows of their own.
    func releaseBatched(_ locations: [(String, EventBatchIndex.Location)], owner: String, _ connection: SQLiteConnection) throws(StoreError) {
        var bySlot: [Int64: Set<Int>] = [:]
        for (_, location) in locations { bySlot[location.batch, default: []].insert(location.slot) }
        for (id, slots) in bySlot {
            guard var batch = try readBatch(connection, id), batch.owner == owner else { continue }
            let pending = Set(batch.events.indices.filter { !batch.done.contains($0) })
            if pending.isSubset(of: slots) {
                try connection.run("UPDATE event_batches SET lease_owner = NULL, lease_until = 0 WHERE id = ?", [.integer(id)])
                continue
            }
            for slot in slots.intersection(pending).sorted() {
                let event = batch.events[slot]
                batch.done.insert(slot)
                batches.setLocation(nil, of: EventKey(event.requestID))
                try insert(connection, event)
            }
            try writeDone(connection, batch)
        }
    }
}
