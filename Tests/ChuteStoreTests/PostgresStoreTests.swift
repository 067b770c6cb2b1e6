import ChuteCore
import ChuteStore
import Testing

/// What only a store shared by several hosts must do, on the test cluster: two stores opened on one
/// schema are two hosts. (The conformance suite runs every single-store check on PostgreSQL too.)
@Suite(.enabled(if: StoreKind.all.contains(.postgres), "needs the PostgreSQL test cluster (scripts/test.sh)"))
struct PostgresStoreTests {
    let t0: Int64 = 1_700_000_000_000

    /// Two hosts on one fresh schema.
    func twoHosts() throws -> (PostgresStore, PostgresStore) {
        let url = try StoreKind.freshSchemaURL(connections: 3)
        return (try PostgresStore(url: url), try PostgresStore(url: url))
    }

    func events(_ count: Int) -> [AsyncEvent] {
        (0..<count).map { AsyncEvent(requestID: "e\($0)", functionName: "f", payload: [1], receivedAtMilliseconds: t0) }
    }

    @Test func hostsClaimingAtOnceNeverGetTheSameEvent() async throws {
        let (a, b) = try twoHosts()
        try await a.accept(events(400))
        var claimed: [String: [String]] = [:]
        try await withThrowingTaskGroup(of: (String, [String]).self) { group in
            for (owner, store) in [("a", a), ("b", b)] {
                group.addTask {
                    var mine: [String] = []
                    while true {
                        let batch = try await store.claim(owner: owner, now: t0, limit: 16, leaseMilliseconds: 30_000)
                        if batch.isEmpty { return (owner, mine) }
                        mine += batch.map(\.requestID)
                    }
                }
            }
            for try await (owner, ids) in group { claimed[owner] = ids }
        }
        let all = (claimed["a"] ?? []) + (claimed["b"] ?? [])
        #expect(all.count == 400)
        #expect(Set(all).count == 400)
    }

    @Test func aLiveHostRenewsItsLeasesAndADeadHostsAreTakenOver() async throws {
        let (a, b) = try twoHosts()
        try await a.accept(events(2))
        _ = try await a.claim(owner: "a", now: t0, limit: 1, leaseMilliseconds: 3_000)
        _ = try await b.claim(owner: "dead", now: t0, limit: 1, leaseMilliseconds: 3_000)
        // "a" renews at t0 + 2 s; "dead" does not.
        try await a.renewLeases(owner: "a", now: t0 + 2_000, leaseMilliseconds: 3_000)
        let takenOver = try await b.claim(owner: "b", now: t0 + 3_500, limit: 10, leaseMilliseconds: 3_000)
        #expect(takenOver.count == 1)
        // A renewal never revives a lease that expired (another host may be taking it): both
        // events' leases have run out by then, "a"'s included.
        try await a.renewLeases(owner: "a", now: t0 + 10_000, leaseMilliseconds: 3_000)
        #expect(try await b.claim(owner: "b2", now: t0 + 10_001, limit: 10, leaseMilliseconds: 3_000).count == 2)
    }

    @Test func aShardLeaseTakenByAnotherHostCannotBeCommittedByItsFormerHolder() async throws {
        let (a, b) = try twoHosts()
        let shards = ["shardId-000000000000"]
        let held = try await a.acquireShardLeases(mapping: "m", shards: shards, owner: "a", limit: 1, now: t0, leaseMilliseconds: 10_000)
        #expect(try await b.takeShardLease(held[0], owner: "b", now: t0 + 1, leaseMilliseconds: 10_000))
        // A second taker with the old counter loses the race.
        #expect(try await !a.takeShardLease(held[0], owner: "c", now: t0 + 2, leaseMilliseconds: 10_000))
        #expect(try await !a.commitCheckpoint(held[0], owner: "a", sequence: 9, plan: DeliveryPlan(), now: t0 + 3, leaseMilliseconds: 10_000))
        let leases = try await b.shardLeases(mapping: "m")
        #expect(leases.map(\.owner) == ["b"])
        #expect(leases[0].checkpoint == nil)
    }

    /// Puts from two hosts commit in sequence order: a reader that always continues after the
    /// last sequence it saw (as a shard worker does from its checkpoint) misses nothing.
    @Test func aReaderFollowingPutsFromTwoHostsMissesNoRecord() async throws {
        let (a, b) = try twoHosts()
        _ = try await a.createStream("s", shardCount: 1, retentionHours: 24, now: t0)
        let puts = 40
        let reader = Task {
            var seen: [UInt64] = []
            var idle = 0
            while idle < 50 {
                let next = try await b.records(in: "s", shard: 0, from: seen.last.map { .afterSequence($0) } ?? .trimHorizon, limit: 100, now: t0)
                seen += next.map(\.sequence)
                idle = next.isEmpty ? idle + 1 : 0
                try await Task.sleep(for: .milliseconds(2))
            }
            return seen
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (host, store) in [("a", a), ("b", b)] {
                group.addTask {
                    for put in 0..<puts {
                        let entries = (0..<5).map { StreamEntry(partitionKey: "\(host)\(put)-\($0)", hashKey: 0, data: Array("x".utf8)) }
                        _ = try await store.putRecords(entries, to: "s", now: t0)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seen = try await reader.value
        #expect(seen.count == 2 * puts * 5)
        #expect(seen == seen.sorted())
        #expect(Set(seen).count == seen.count)
    }

    @Test func aBadURLOrUnreachableServerIsAClearError() {
        #expect(throws: StoreError.self) { try PostgresTarget(url: "mysql://x") }
        #expect(throws: StoreError.self) { try PostgresTarget(url: "postgres://x@127.0.0.1:1/db?schema=Bad-Name") }
        do {
            _ = try PostgresStore(url: "postgres://chute:secret@127.0.0.1:1/chute?connect_timeout=2")
            Issue.record("connected to a closed port")
        } catch {
            let text = "\(error)"
            #expect(text.contains("cannot connect to PostgreSQL at postgres://chute:***@127.0.0.1:1/chute"))
            #expect(!text.contains("secret"))
        }
    }
}
