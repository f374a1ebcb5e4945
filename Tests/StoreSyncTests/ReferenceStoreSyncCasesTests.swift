import StoreSyncCore
import Testing

/// The cases of the reference node's own store-sync tests (`tests/waku_store_sync/
/// test_state_transition.nim` and `test_range_split.nim` in logos-delivery), run against this
/// engine. Payloads go through the wire encoding, as they would between nodes; hashes are SHA-256
/// of the same strings where the reference takes Keccak-256 (any distinct hashes serve).
@Suite("The reference node's store-sync cases")
struct ReferenceStoreSyncCasesTests {
    static let pubsubTopic = "/waku/2/rs/0/0"
    static let contentTopic = "/waku/2/default-content/proto"

    static func digest(_ text: String) -> MessageHash {
        let hasher = SHA256Hasher()
        hasher.begin()
        hasher.update(text)
        return hasher.finish()
    }

    static func storage(_ items: [(timestamp: UInt64, hash: MessageHash)]) -> MemoryXorStorage {
        MemoryXorStorage(
            items.map {
                .init(
                    key: SyncKey(timestamp: $0.timestamp, hash: $0.hash), pubsubTopic: pubsubTopic,
                    contentTopic: contentTopic)
            })
    }

    /// Local and remote stores of `count` keys at 1000 + i; at the indices in `altered` the
    /// remote holds "msg<i><suffix>" instead of "msg<i>".
    static func pair(count: Int, altered: Set<Int>, suffix: String = "_x") -> (
        local: MemoryXorStorage, remote: MemoryXorStorage
    ) {
        let local = (0..<count).map { (UInt64(1_000 + $0), digest("msg\($0)")) }
        let remote = (0..<count).map {
            (UInt64(1_000 + $0), digest(altered.contains($0) ? "msg\($0)\(suffix)" : "msg\($0)"))
        }
        return (storage(local), storage(remote))
    }

    /// One fingerprint range of the remote's keys, as its payload.
    static func fingerprint(of remote: MemoryXorStorage, from lower: UInt64, through upper: UInt64) -> RangesData {
        let scope = SyncScope(pubsubTopics: [pubsubTopic], contentTopics: [contentTopic])
        return RangesData(
            pubsubTopics: scope.pubsubTopics, contentTopics: scope.contentTopics, start: SyncKey(timestamp: lower),
            ranges: [
                .init(
                    upper: SyncKey(timestamp: upper),
                    content: .fingerprint(
                        remote.xor(from: SyncKey(timestamp: lower), through: SyncKey(timestamp: upper), in: scope)))
            ])
    }

    /// What `storage` answers to `payload`, decoded, with the differences it learnt.
    static func process(
        _ payload: RangesData, _ storage: MemoryXorStorage, threshold: Int = 100, partitions: Int = 8
    ) throws -> (reply: RangesData, have: [MessageHash], need: [MessageHash]) {
        var engine = StoreSyncReconciler(configuration: .init(itemSetThreshold: threshold, partitions: partitions))
        let step = try engine.receive(payload.encoded(), storage: storage)
        return (try RangesData(decoding: step.reply ?? []), step.have, step.need)
    }

    static func isFingerprint(_ range: RangesData.Range) -> Bool {
        if case .fingerprint = range.content { return true }
        return false
    }

    static func itemSets(_ reply: RangesData) -> [[SyncKey]] {
        reply.ranges.compactMap {
            if case .itemSet(let keys, _) = $0.content { return keys }
            return nil
        }
    }

    /// The range of `reply` that covers `timestamp`.
    static func range(of reply: RangesData, covering timestamp: UInt64) -> (UInt64, UInt64)? {
        reply.ranges.indices.lazy.map { (reply.lower(of: $0).timestamp, reply.ranges[$0].upper.timestamp) }
            .first { $0.0 <= timestamp && timestamp <= $0.1 }
    }

    // test_state_transition.nim: "Fingerprint → ItemSet → zero (default thresholds)"
    @Test func fingerprintThenItemSetThenNothing() throws {
        var (local, remote) = Self.pair(count: 2_000, altered: [137], suffix: "x")
        let first = try Self.process(Self.fingerprint(of: remote, from: 1_000, through: 2_999), local)
        #expect(first.reply.ranges.count == 8 && first.reply.ranges.allSatisfy(Self.isFingerprint))
        let sub = try #require(Self.range(of: first.reply, covering: 1_137))
        let second = try Self.process(Self.fingerprint(of: remote, from: sub.0, through: sub.1), local)
        #expect(second.reply.ranges.count == 8 && Self.itemSets(second.reply).count == 8)
        let third = try Self.process(second.reply, remote)
        #expect(third.have == [Self.digest("msg137x")] && third.need == [Self.digest("msg137")])
        local.insert(
            .init(
                key: SyncKey(timestamp: 1_137, hash: Self.digest("msg137x")), pubsubTopic: Self.pubsubTopic,
                contentTopic: Self.contentTopic))
        remote.insert(
            .init(
                key: SyncKey(timestamp: 1_137, hash: Self.digest("msg137")), pubsubTopic: Self.pubsubTopic,
                contentTopic: Self.contentTopic))
        let last = try Self.process(Self.fingerprint(of: remote, from: sub.0, through: sub.1), local)
        #expect(last.reply.ranges.isEmpty && last.have.isEmpty && last.need.isEmpty)
    }

    // test_state_transition.nim: "test 2 ranges includes 1 skip"
    @Test func twoRangesOneSkipped() throws {
        let (local, remote) = Self.pair(count: 120, altered: Set(60..<120))
        let scope = SyncScope(pubsubTopics: [Self.pubsubTopic], contentTopics: [Self.contentTopic])
        let payload = RangesData(
            pubsubTopics: scope.pubsubTopics, contentTopics: scope.contentTopics, start: SyncKey(timestamp: 1_000),
            ranges: [
                .init(
                    upper: SyncKey(timestamp: 1_059),
                    content: .fingerprint(
                        remote.xor(from: SyncKey(timestamp: 1_000), through: SyncKey(timestamp: 1_059), in: scope))),
                .init(
                    upper: SyncKey(timestamp: 1_119),
                    content: .fingerprint(
                        remote.xor(from: SyncKey(timestamp: 1_059), through: SyncKey(timestamp: 1_119), in: scope))),
            ])
        let reply = try Self.process(payload, local).reply
        #expect(reply.ranges.count == 2 && reply.ranges[0].content == .skip)
        let lists = Self.itemSets(reply)
        #expect(lists.count == 1)
        #expect(!lists.joined().contains { $0.hash == Self.digest("msg119_x") })
    }

    // test_state_transition.nim: "custom threshold (50) → eight ItemSets first round"
    @Test func aThresholdOf50GivesEightItemSets() throws {
        let (local, remote) = Self.pair(count: 300, altered: [123])
        let reply = try Self.process(Self.fingerprint(of: remote, from: 1_000, through: 1_299), local, threshold: 50)
            .reply
        let lists = Self.itemSets(reply)
        #expect(reply.ranges.count == 8 && lists.count == 8)
        #expect(lists.filter { $0.contains(SyncKey(timestamp: 1_123, hash: Self.digest("msg123"))) }.count == 1)
    }

    // test_state_transition.nim: "test N=80K,3FP,2IS,SKIP" (the first range ends at (last, zero):
    // a bound whose timestamp moves carries no hash on the wire)
    @Test func eightyThousandKeysThreeFingerprintRoundsThenItemSets() throws {
        let count = 80_000
        let bad = count - 10
        var (local, remote) = Self.pair(count: count, altered: [bad])
        let scope = SyncScope(pubsubTopics: [Self.pubsubTopic], contentTopics: [Self.contentTopic])
        var slice = (UInt64(1_000), UInt64(1_000 + count - 1))
        for _ in 1...3 {
            let reply = try Self.process(Self.fingerprint(of: remote, from: slice.0, through: slice.1), local).reply
            #expect(reply.ranges.count == 8 && reply.ranges.allSatisfy(Self.isFingerprint))
            slice = try #require(
                reply.ranges.indices.lazy.map { (reply.lower(of: $0).timestamp, reply.ranges[$0].upper.timestamp) }
                    .first {
                        local.xor(from: SyncKey(timestamp: $0.0), through: SyncKey(timestamp: $0.1), in: scope)
                            != remote.xor(from: SyncKey(timestamp: $0.0), through: SyncKey(timestamp: $0.1), in: scope)
                    })
        }
        let fourth = try Self.process(Self.fingerprint(of: remote, from: slice.0, through: slice.1), local).reply
        #expect(fourth.ranges.count == 8 && Self.itemSets(fourth).count == 8)
        slice = try #require(Self.range(of: fourth, covering: UInt64(1_000 + bad)))
        let fifth = try Self.process(Self.fingerprint(of: remote, from: slice.0, through: slice.1), local)
        #expect(fifth.reply.ranges.count == 1 && Self.itemSets(fifth.reply).count == 1)
        let remoteLearns = try Self.process(fifth.reply, remote)
        #expect(remoteLearns.have == [Self.digest("msg\(bad)_x")] && remoteLearns.need == [Self.digest("msg\(bad)")])
        let time = UInt64(1_000 + bad)
        local.insert(
            .init(
                key: SyncKey(timestamp: time, hash: Self.digest("msg\(bad)_x")), pubsubTopic: Self.pubsubTopic,
                contentTopic: Self.contentTopic))
        remote.insert(
            .init(
                key: SyncKey(timestamp: time, hash: Self.digest("msg\(bad)")), pubsubTopic: Self.pubsubTopic,
                contentTopic: Self.contentTopic))
        let last = try Self.process(Self.fingerprint(of: remote, from: slice.0, through: slice.1), local)
        #expect(last.reply.ranges.isEmpty && last.have.isEmpty && last.need.isEmpty)
    }

    // test_range_split.nim: "fan-out: eight fingerprint sub-ranges for large slice"
    @Test func aLargeSliceFansOutIntoEightFingerprints() throws {
        let (local, remote) = Self.pair(count: 2_048, altered: [70])
        let result = try Self.process(Self.fingerprint(of: remote, from: 1_000, through: 3_047), local)
        #expect(result.reply.ranges.count == 8 && result.reply.ranges.allSatisfy(Self.isFingerprint))
        #expect(Self.range(of: result.reply, covering: 1_070) != nil)
        #expect(result.have.isEmpty && result.need.isEmpty)
    }

    // test_range_split.nim: "splits mismatched fingerprint into two sub-ranges then item-set"
    @Test func twoPartitionsOfAtMostFourKeysAreListed() throws {
        let (remote, local) = Self.pair(count: 8, altered: [3])
        let reply = try Self.process(
            Self.fingerprint(of: remote, from: 1_000, through: 1_007), local, threshold: 4, partitions: 2
        ).reply
        let lists = Self.itemSets(reply)
        #expect(reply.ranges.count == 2 && lists.count == 2)
        #expect(lists.joined().contains(SyncKey(timestamp: 1_003, hash: Self.digest("msg3_x"))))
    }

    // test_range_split.nim: "second round when N =2048 & local" (the remote holds one key)
    @Test func aRemoteOfOneKeyGetsEightItemSetsOnTheSecondRound() throws {
        let (local, _) = Self.pair(count: 2_048, altered: [])
        let remote = Self.storage([(1_070, Self.digest("msg70_x"))])
        let first = try Self.process(Self.fingerprint(of: remote, from: 1_000, through: 3_047), local).reply
        #expect(first.ranges.count == 8 && first.ranges.allSatisfy(Self.isFingerprint))
        let sub = try #require(Self.range(of: first, covering: 1_070))
        let second = try Self.process(Self.fingerprint(of: remote, from: sub.0, through: sub.1), local)
        let lists = Self.itemSets(second.reply)
        #expect(second.reply.ranges.count == 8 && lists.count == 8)
        let holding = lists.filter { $0.contains(SyncKey(timestamp: 1_070, hash: Self.digest("msg70"))) }
        #expect(holding.count == 1)
        #expect(!holding.joined().contains { $0.hash == Self.digest("msg70_x") })
        #expect(second.have.isEmpty && second.need.isEmpty)
    }

    // test_range_split.nim: "second-round payload remote"
    @Test func theRemoteLearnsFromTheLocalList() throws {
        let (local, remote) = Self.pair(count: 8, altered: [3])
        let first = try Self.process(Self.fingerprint(of: remote, from: 1_000, through: 1_007), local)
        #expect(first.reply.ranges.count == 1 && Self.itemSets(first.reply).count == 1)
        #expect(first.have.isEmpty && first.need.isEmpty)
        let second = try Self.process(first.reply, remote)
        #expect(second.have == [Self.digest("msg3_x")] && second.need == [Self.digest("msg3")])
    }
}
