import Foundation
import StoreSyncCore
import StoreSyncLMDB
import Testing

/// The core's transcript and convergence test bodies, run unchanged on LMDB key indexes.
@Suite("Negentropy on LMDB storage")
struct LMDBReconciliationTests {
    static func store(_ directory: TemporaryDirectory) throws -> MessageStore {
        try MessageStore(StoreConfiguration(directory: directory.sub("store"), durability: .noSync))
    }

    @Test(arguments: TestVectors.transcriptNames)
    func reproducesReferenceTranscript(name: String) throws {
        let transcript = try Transcript.load(name)
        let directory = try TemporaryDirectory()
        let store = try Self.store(directory)
        try store.insertKeys(try Transcript.keys(transcript.clientItems), index: "client")
        try store.insertKeys(try Transcript.keys(transcript.serverItems), index: "server")
        try store._checkInvariants()
        try store.withKeyIndexSnapshot(index: "client") { client in
            try store.withKeyIndexSnapshot(index: "server") { server in
                try replayTranscript(transcript, client: client, server: server)
            }
        }
    }

    static func onLMDB(
        _ local: [SyncKey], _ remote: [SyncKey],
        _ body: (any ReconciliationStorage, any ReconciliationStorage) throws -> Void
    ) throws {
        let directory = try TemporaryDirectory()
        let store = try store(directory)
        try store.insertKeys(local, index: "local")
        try store.insertKeys(remote, index: "remote")
        try store.withKeyIndexSnapshot(index: "local") { localSnapshot in
            try store.withKeyIndexSnapshot(index: "remote") { remoteSnapshot in
                try body(localSnapshot, remoteSnapshot)
            }
        }
    }

    @Test(arguments: 0..<40)
    func randomSetsConverge(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed) &* 7_919)
        let shape = DivergentSets.Shape.allCases[seed % DivergentSets.Shape.allCases.count]
        let size = Int(rng.next() % 4_000)
        let sets = DivergentSets(
            seed: UInt64(seed), size: size, differences: Int(rng.next() % UInt64(max(1, size / 4))), shape: shape)
        try checkConverges(
            sets, initiatorPolicy: SplitPolicy.allCases[seed % 2],
            responderPolicy: SplitPolicy.allCases[(seed / 2) % 2],
            frameSizeLimit: [0, 4_096, 20_000][seed % 3], swapRoles: seed % 5 < 2, withStorages: Self.onLMDB)
    }

    @Test func largeSetConvergesAgainstInMemoryPeer() throws {
        let sets = DivergentSets(seed: 77, size: 120_000, differences: 400, shape: .spread)
        let directory = try TemporaryDirectory()
        let store = try Self.store(directory)
        try store.insertKeys(sets.a, index: "a")
        try store.withKeyIndexSnapshot(index: "a") { local in
            try checkConverges(
                local: local, remote: SortedKeyStorage(sets.b), localOnly: sets.onlyA, remoteOnly: sets.onlyB,
                initiatorPolicy: .adaptive, responderPolicy: .reference, frameSizeLimit: 0)
        }
    }
}
