import ChuteStore

/// How many of a mapping's shards this host should hold, and whose lease it should take to get
/// there: the Kinesis Client Library's lease taker, as a pure function of the lease table.
///
/// Live hosts are the owners of unexpired leases, plus this host. Each should hold its share,
/// `ceil(shards / hosts)`. Free and expired leases are taken first (up to the share); when none is
/// left and this host is short, it takes one lease from the most loaded host: when that host holds
/// more than its share, or holds its share while this host is short by two or more. One lease per
/// round, so hosts joining at once converge without taking leases back and forth.
struct ShardLeaseBalance: Equatable {
    /// The most leases this host should hold.
    var share: Int
    /// A lease to take from another live host, with the counter it has now.
    var take: ShardLease?

    init(leases: [ShardLease], shards: [String], owner: String, now: Int64) {
        let live = leases.filter { $0.owner != nil && $0.untilMilliseconds > now && shards.contains($0.shard) }
        var held: [String: [ShardLease]] = [:]
        for lease in live { held[lease.owner!, default: []].append(lease) }
        let hosts = Set(held.keys).union([owner]).count
        share = (shards.count + hosts - 1) / max(hosts, 1)
        take = nil
        let mine = held[owner]?.count ?? 0
        let anyFree = live.count < shards.count
        guard !anyFree, mine < share else { return }
        // The most loaded other host; ties go to the first by name, so every host picks alike.
        guard let theirs = held.filter({ $0.key != owner }).max(by: { a, b in
            a.value.count != b.value.count ? a.value.count < b.value.count : a.key > b.key
        })?.value else { return }
        guard theirs.count > share || (theirs.count == share && mine < share - 1) else { return }
        take = theirs.sorted { $0.shard < $1.shard }.last
    }
}
