import StoreSyncCore
import Testing

/// Replays a reference transcript: our initiator over the client's keys and our responder over the
/// server's must produce every message byte for byte, and the client must end with the recorded
/// difference. Generic over storage so the same body runs on every storage implementation.
func replayTranscript(
    _ transcript: Transcript,
    client: some ReconciliationStorage,
    server: some ReconciliationStorage
) throws {
    let initiator = try Reconciler(frameSizeLimit: transcript.clientFrameSizeLimit, policy: .reference)
    let responder = try Reconciler(frameSizeLimit: transcript.serverFrameSizeLimit, policy: .reference)
    let messages = transcript.messages
    try #require(!messages.isEmpty && messages[0].from == "client")

    var have = Set<MessageHash>()
    var need = Set<MessageHash>()
    var produced = try initiator.initiate(client)
    #expect(Hex.encode(produced) == messages[0].hex, "\(transcript.name): message 0 (client)")
    var index = 1
    var finished = false
    while index < messages.count {
        try #require(messages[index].from == "server")
        let reply = try responder.respond(to: produced, storage: server)
        #expect(Hex.encode(reply) == messages[index].hex, "\(transcript.name): message \(index) (server)")
        let step = try initiator.reconcile(Hex.decode(messages[index].hex) ?? [], storage: client)
        have.formUnion(step.have)
        need.formUnion(step.need)
        index += 1
        guard let next = step.nextMessage else {
            finished = true
            break
        }
        try #require(index < messages.count, "\(transcript.name): we would send a message the transcript lacks")
        #expect(Hex.encode(next) == messages[index].hex, "\(transcript.name): message \(index) (client)")
        produced = next
        index += 1
    }
    #expect(finished, "\(transcript.name): the initiator must finish where the transcript does")
    #expect(index == messages.count)
    #expect(have == Set(transcript.clientHave.compactMap { MessageHash(hex: $0) }), "\(transcript.name): have")
    #expect(need == Set(transcript.clientNeed.compactMap { MessageHash(hex: $0) }), "\(transcript.name): need")
    #expect(have.count == transcript.clientHave.count && need.count == transcript.clientNeed.count)
}

@Suite("Negentropy v1 transcripts, in-memory storage")
struct TranscriptConformanceTests {
    @Test(arguments: TestVectors.transcriptNames)
    func reproducesReferenceTranscript(name: String) throws {
        let transcript = try Transcript.load(name)
        let client = SortedKeyStorage(try Transcript.keys(transcript.clientItems))
        let server = SortedKeyStorage(try Transcript.keys(transcript.serverItems))
        client._checkInvariants()
        server._checkInvariants()
        try replayTranscript(transcript, client: client, server: server)
    }

    @Test func everyTranscriptFileIsCovered() throws {
        let files = try FileManagerListing.jsonNames(in: TestVectors.directory.appendingPathComponent("negentropy"))
        #expect(files == Set(TestVectors.transcriptNames))
    }
}
