import Testing

@testable import StoreSyncCore

/// The store-sync engine against itself over in-memory storage: random divergence, topic
/// scoping, the end conditions and the bounds.
@Suite struct StoreSyncReconcilerTests {
    typealias Entry = MemoryXorStorage.Entry

    static let contentTopics = ["/a/1/x/proto", "/a/1/y/proto", "/a/1/z/proto"]

    /// Two stores sharing most keys, each with keys of its own.
    static func divergent(seed: UInt64, count: Int, onlyFirst: Int, onlySecond: Int)
        -> (MemoryXorStorage, MemoryXorStorage)
    {
        var random = SplitMix64(seed: seed)
        func entry() -> Entry {
            // Many keys share timestamps: 1 ms granularity over an hour.
            let timestamp = 1_700_000_000_000_000_000 + (random.next() % 3_600_000) * 1_000_000
            return Entry(
                key: SyncKey(timestamp: timestamp, hash: random.hash()), pubsubTopic: "/waku/2/rs/0/0",
                contentTopic: contentTopics[Int(random.next() % 3)])
        }
        let shared = (0..<count).map { _ in entry() }
        return (
            MemoryXorStorage(shared + (0..<onlyFirst).map { _ in entry() }),
            MemoryXorStorage(shared + (0..<onlySecond).map { _ in entry() })
        )
    }

    /// Runs a session to its end; returns what each side learnt and the rounds it took.
    static func session(
        _ initiatorStorage: MemoryXorStorage, _ responderStorage: MemoryXorStorage,
        initiator: StoreSyncReconciler.Configuration = .init(), responder: StoreSyncReconciler.Configuration = .init()
    ) throws -> (
        initiator: (have: Set<MessageHash>, need: Set<MessageHash>),
        responder: (have: Set<MessageHash>, need: Set<MessageHash>), rounds: Int
    ) {
        var first = StoreSyncReconciler(configuration: initiator)
        var second = StoreSyncReconciler(configuration: responder)
        var learnt = (
            initiator: (have: Set<MessageHash>(), need: Set<MessageHash>()),
            responder: (have: Set<MessageHash>(), need: Set<MessageHash>())
        )
        var message = try first.initiate(
            window: 1_700_000_000_000_000_000...1_700_000_000_000_000_000 + 3_600_000_000_000, storage: initiatorStorage
        )
        var rounds = 0
        while true {
            rounds += 1
            let answer = try second.receive(message, storage: responderStorage)
            learnt.responder.have.formUnion(answer.have)
            learnt.responder.need.formUnion(answer.need)
            guard let reply = answer.reply, !answer.isDone else { break }
            let next = try first.receive(reply, storage: initiatorStorage)
            learnt.initiator.have.formUnion(next.have)
            learnt.initiator.need.formUnion(next.need)
            guard let again = next.reply, !next.isDone else { break }
            message = again
        }
        return (learnt.initiator, learnt.responder, rounds)
    }

    static func only(_ storage: MemoryXorStorage, not other: MemoryXorStorage, scope: SyncScope = SyncScope()) -> Set<
        MessageHash
    > {
        let others = Set(other.entries.map(\.key))
        return Set(
            storage.entries.filter {
                !others.contains($0.key) && scope.admits(pubsubTopic: $0.pubsubTopic, contentTopic: $0.contentTopic)
            }.map(\.key.hash))
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func bothSidesLearnEveryDifference(seed: UInt64) throws {
        let (a, b) = Self.divergent(seed: seed, count: 20_000, onlyFirst: 150, onlySecond: 250)
        let result = try Self.session(a, b)
        #expect(result.initiator.have == Self.only(a, not: b))
        #expect(result.initiator.need == Self.only(b, not: a))
        #expect(result.responder.have == Self.only(b, not: a))
        #expect(result.responder.need == Self.only(a, not: b))
    }

    @Test func identicalStoresEndAfterOneRound() throws {
        let (a, _) = Self.divergent(seed: 9, count: 5_000, onlyFirst: 0, onlySecond: 0)
        let result = try Self.session(a, a)
        #expect(result.rounds == 1)
        #expect(result.initiator.have.isEmpty && result.responder.need.isEmpty)
    }

    /// A content-topic scope on one side narrows the session for both: keys of other content
    /// topics are neither fingerprinted nor listed.
    @Test func aContentTopicScopeNarrowsTheSession() throws {
        let (a, b) = Self.divergent(seed: 4, count: 10_000, onlyFirst: 120, onlySecond: 80)
        let scope = SyncScope(contentTopics: [Self.contentTopics[0]])
        let result = try Self.session(a, b, responder: .init(scope: scope))
        #expect(result.responder.have == Self.only(b, not: a, scope: scope))
        #expect(result.responder.need == Self.only(a, not: b, scope: scope))
        #expect(!result.responder.need.isEmpty)
    }

    @Test func topicsThatDoNotIntersectEndTheSessionWithAnEmptyReply() throws {
        let (a, b) = Self.divergent(seed: 5, count: 100, onlyFirst: 5, onlySecond: 5)
        var initiator = StoreSyncReconciler(configuration: .init(scope: SyncScope(pubsubTopics: ["/waku/2/rs/1/0"])))
        var responder = StoreSyncReconciler(configuration: .init(scope: SyncScope(pubsubTopics: ["/waku/2/rs/0/0"])))
        let first = try initiator.initiate(window: 0...UInt64(Int64.max), storage: a)
        let step = try responder.receive(first, storage: b)
        #expect(step.reply == [] && step.isDone)
        #expect(try initiator.receive([], storage: a).isDone)
    }

    @Test func aPeerThatNeverEndsIsStoppedAtTheRoundBound() throws {
        let (a, b) = Self.divergent(seed: 6, count: 1_000, onlyFirst: 10, onlySecond: 10)
        var responder = StoreSyncReconciler(configuration: .init(maximumRounds: 3))
        let initiator = StoreSyncReconciler()
        let first = try initiator.initiate(window: 0...UInt64(Int64.max), storage: a)
        for _ in 0..<3 { _ = try responder.receive(first, storage: b) }
        #expect(throws: StoreSyncReconciler.Failure.tooManyRounds(3)) { try responder.receive(first, storage: b) }
    }

    @Test func equalPartsSpreadTheRemainderOverTheFirstParts() {
        #expect(StoreSyncReconciler.equalParts(from: 0, to: 10, count: 8) == [2, 4, 5, 6, 7, 8, 9, 10])
        #expect(StoreSyncReconciler.equalParts(from: 100, to: 105, count: 8) == [])
    }
}
