import Foundation
import StoreSyncCore
import StoreSyncTestSupport
import Testing

/// Runs the `negentropy-harness` executable as another implementation's test driver would: the
/// whole line-protocol input on stdin, and checks its stdout against a reference transcript.
@Suite("negentropy-harness line protocol")
struct HarnessProcessTests {
    struct HarnessMissing: Error, CustomStringConvertible {
        let path: String
        var description: String { "negentropy-harness not built at \(path): run swift build first" }
    }

    static func run(input: String, environment: [String: String] = [:]) async throws -> (
        output: [String], status: Int32
    ) {
        let executable = ChildProcess.built("negentropy-harness")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw HarnessMissing(path: executable.path)
        }
        let (status, output) = try await ChildProcess.run(
            executable, [], environment: environment, input: Data(input.utf8), discardErrors: true)
        return (output.split(separator: "\n").map(String.init), status)
    }

    static func itemLines(_ items: [[JSONScalar]]) throws -> String {
        try Transcript.keys(items).map { "item,\($0.timestamp),\($0.hash.hex)\n" }.joined()
    }

    @Test(arguments: ["mixed-2000", "frame-limited-20000"])
    func responderReproducesServerMessages(name: String) async throws {
        let transcript = try Transcript.load(name)
        var input = try Self.itemLines(transcript.serverItems) + "seal\n"
        for message in transcript.messages where message.from == "client" {
            input += "msg,\(message.hex)\n"
        }
        let (output, status) = try await Self.run(
            input: input, environment: ["FRAMESIZELIMIT": "\(transcript.serverFrameSizeLimit)"])
        #expect(status == 0)
        let expected = transcript.messages.filter { $0.from == "server" }.map { "msg,\($0.hex)" }
        #expect(output == expected)
    }

    @Test(arguments: ["mixed-2000", "frame-limited-20000"])
    func initiatorReproducesClientMessagesAndDifference(name: String) async throws {
        let transcript = try Transcript.load(name)
        var input = try Self.itemLines(transcript.clientItems) + "seal\ninitiate\n"
        for message in transcript.messages where message.from == "server" {
            input += "msg,\(message.hex)\n"
        }
        let (output, status) = try await Self.run(
            input: input, environment: ["FRAMESIZELIMIT": "\(transcript.clientFrameSizeLimit)"])
        #expect(status == 0)
        let sent = output.filter { $0.hasPrefix("msg,") }
        #expect(sent == transcript.messages.filter { $0.from == "client" }.map { "msg,\($0.hex)" })
        #expect(Set(output.filter { $0.hasPrefix("have,") }) == Set(transcript.clientHave.map { "have,\($0)" }))
        #expect(Set(output.filter { $0.hasPrefix("need,") }) == Set(transcript.clientNeed.map { "need,\($0)" }))
        #expect(output.last == "done")
    }

    @Test func badInputExitsNonZero() async throws {
        let (_, status) = try await Self.run(input: "item,12,nothex\n")
        #expect(status != 0)
        let (_, unknownPolicy) = try await Self.run(input: "seal\n", environment: ["NEGENTROPY_POLICY": "fastest"])
        #expect(unknownPolicy != 0)
    }

    @Test func adaptivePolicyStillFindsTheReferenceDifference() async throws {
        let transcript = try Transcript.load("mixed-2000")
        let server = SortedKeyStorage(try Transcript.keys(transcript.serverItems))
        let responder = try Reconciler(policy: .reference)
        // Drive the adaptive harness as initiator against an in-process reference responder.
        var input = try Self.itemLines(transcript.clientItems) + "seal\ninitiate\n"
        var have = Set<String>()
        var need = Set<String>()
        for _ in 0..<50 {
            let (output, status) = try await Self.run(input: input, environment: ["NEGENTROPY_POLICY": "adaptive"])
            try #require(status == 0)
            have = Set(output.filter { $0.hasPrefix("have,") }.map { String($0.dropFirst(5)) })
            need = Set(output.filter { $0.hasPrefix("need,") }.map { String($0.dropFirst(5)) })
            if output.last == "done" { break }
            let last = try #require(output.last(where: { $0.hasPrefix("msg,") }))
            let reply = try responder.respond(to: try #require(Hex.decode(last.dropFirst(4))), storage: server)
            input += "msg,\(Hex.encode(reply))\n"
        }
        #expect(have == Set(transcript.clientHave))
        #expect(need == Set(transcript.clientNeed))
    }
}

@Suite("Fuzz corpus replay")
struct FuzzCorpusReplayTests {
    @Test(arguments: [
        ("reconcile-fuzz", "ReconcileFuzz"), ("node-decoders-fuzz", "NodeDecodersFuzz"),
        ("p2p-decoders-fuzz", "P2PDecodersFuzz"),
    ])
    func committedCorpusReplaysWithoutAViolation(executableName: String, directoryName: String) async throws {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = directory.appendingPathComponent(executableName)
        let corpus = ReadmeExampleTests.root.appendingPathComponent("Fuzz/\(directoryName)/corpus")
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.path)
        try #require(files.count >= 10, "the seed corpus is committed")
        let (status, text) = try await ChildProcess.run(executable, [corpus.path])
        #expect(status == 0)
        #expect(text.contains("replayed \(files.count) inputs"))
    }
}
