@testable import ChuteAsync
import ChuteStore
import Testing

/// Hosts sharing a store split a mapping's shards: each takes its share of free and expired
/// leases, and a host short of its share takes one lease a round from the busiest host.
@Suite struct ShardLeaseBalanceTests {
    let now: Int64 = 1_000_000
    let shards = (0..<4).map { "shard-\($0)" }

    func leases(_ owners: [String?], expired: Set<Int> = []) -> [ShardLease] {
        owners.enumerated().map { index, owner in
            ShardLease(mapping: "m", shard: shards[index], owner: owner, untilMilliseconds: expired.contains(index) ? now - 1 : now + 10_000,
                       checkpoint: nil, counter: Int64(index))
        }
    }

    @Test func aHostAloneTakesEveryShard() {
        let balance = ShardLeaseBalance(leases: [], shards: shards, owner: "a", now: now)
        #expect(balance .share == 4)
        #expect(balance.take == nil)
    }

    @Test func aJoiningHostTakesOneLeaseARoundFromTheBusiestUntilBothHoldTheirShare() {
        let first = ShardLeaseBalance(leases: leases(["a", "a", "a", "a"]), shards: shards, owner: "b", now: now)
        #expect(first.share == 2)
        #expect(first.take?.shard == "shard-3")
        let second = ShardLeaseBalance(leases: leases(["a", "a", "a", "b"]), shards: shards, owner: "b", now: now)
        #expect(second.take?.shard == "shard-2")
        let settled = ShardLeaseBalance(leases: leases(["a", "a", "b", "b"]), shards: shards, owner: "b", now: now)
        #expect(settled.share == 2 && settled.take == nil)
        // The host that gave leases up keeps its share and takes nothing back.
        #expect(ShardLeaseBalance(leases: leases(["a", "a", "b", "b"]), shards: shards, owner: "a", now: now).take == nil)
    }

    @Test func threeHostsOnFourShardsSettleWithoutTakingBackAndForth() {
        let third = ShardLeaseBalance(leases: leases(["a", "a", "b", "b"]), shards: shards, owner: "c", now: now)
        #expect(third.share == 2)
        #expect(third.take?.owner == "a")  // ties go to the first name
        let after = leases(["a", "c", "b", "b"])
        for host in ["a", "b", "c"] {
            #expect(ShardLeaseBalance(leases: after, shards: shards, owner: host, now: now).take == nil)
        }
    }

    @Test func aDeadHostsExpiredLeasesAreTakenFreeNotStolen() {
        // "b" died: its leases expired, so it no longer counts as a host and nothing is stolen.
        let balance = ShardLeaseBalance(leases: leases(["a", "a", "b", "b"], expired: [2, 3]), shards: shards, owner: "c", now: now)
        #expect(balance.share == 2 && balance.take == nil)
    }
}
