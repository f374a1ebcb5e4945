import Foundation
import StoreSyncCore
import StoreSyncTestSupport
import Testing

/// The C API's examples, built by `scripts/build-c-api` (which `scripts/test` runs): a C program,
/// a Python ctypes client and a Go program reproduce the Negentropy reference transcripts byte
/// for byte through libstoresync.so, on memory and on LMDB; the C program also drives every
/// error path, under AddressSanitizer and under valgrind memcheck with no error and no leak.
@Suite("C API examples")
struct CAPIExampleTests {
    struct NotBuilt: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) is missing: run scripts/build-c-api (scripts/test does)" }
    }

    static var built: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // StoreSyncTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // the package
            .appendingPathComponent(".build/c-api")
    }

    static func artifact(_ name: String) throws -> URL {
        let url = built.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw NotBuilt(path: url.path) }
        return url
    }

    /// A transcript in the line form the C example reads.
    static func lines(_ name: String, into directory: TemporaryDirectory) throws -> String {
        let transcript = try Transcript.load(name)
        var text = "limits \(transcript.clientFrameSizeLimit) \(transcript.serverFrameSizeLimit)\n"
        for (side, items) in [("client", transcript.clientItems), ("server", transcript.serverItems)] {
            for key in try Transcript.keys(items) { text += "\(side) \(key.timestamp) \(key.hash.hex)\n" }
        }
        for message in transcript.messages { text += "message \(message.from) \(message.hex)\n" }
        for id in transcript.clientHave { text += "have \(id)\n" }
        for id in transcript.clientNeed { text += "need \(id)\n" }
        let path = directory.sub("\(name).txt")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The hash the C example prints for its message, computed here.
    static let expectedHash = try? WakuMessage(
        pubsubTopic: "/waku/2/rs/0/0", contentTopic: "/test/1/c/proto", payload: Array("hi".utf8), timestamp: 1
    ).hash.hex

    @Test(arguments: TestVectors.transcriptNames.filter { $0 != "sparse-diff-50000" })
    func theCExampleReproducesTheTranscriptAndEveryErrorPath(name: String) async throws {
        let directory = try TemporaryDirectory("capi")
        let transcript = try Self.lines(name, into: directory)
        let (status, output) = try await ChildProcess.run(
            try Self.artifact("storesync_example"), ["transcript", transcript, directory.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("all checks passed"))
        #expect(output.contains(try #require(Self.expectedHash)))
    }

    @Test(arguments: ["mixed-2000", "frame-limited-20000"])
    func underAddressSanitizerNothingLeaksOrBreaks(name: String) async throws {
        let directory = try TemporaryDirectory("capi-asan")
        let transcript = try Self.lines(name, into: directory)
        let (status, output) = try await ChildProcess.run(
            try Self.artifact("storesync_example_asan"), ["transcript", transcript, directory.path],
            environment: ["ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("all checks passed"))
        #expect(!output.contains("ERROR: AddressSanitizer") && !output.contains("LeakSanitizer"))
    }

    @Test func underValgrindMemcheckNoErrorAndNoLeak() async throws {
        let directory = try TemporaryDirectory("capi-valgrind")
        let transcript = try Self.lines("mixed-2000", into: directory)
        let (status, output) = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/valgrind"),
            [
                "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=9",
                try Self.artifact("storesync_example").path, "transcript", transcript, directory.path,
            ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("all checks passed"))
        #expect(output.contains("ERROR SUMMARY: 0 errors"))
        #expect(output.contains("definitely lost: 0 bytes") && output.contains("indirectly lost: 0 bytes"))
    }

    @Test(arguments: ["empty-both", "mixed-2000", "frame-limited-20000"])
    func thePythonClientReproducesTheTranscript(name: String) async throws {
        let directory = try TemporaryDirectory("capi-python")
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/python/storesync_ctypes.py")
        let (status, output) = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/python3"),
            [
                script.path, try Self.artifact("lib/libstoresync.so").path,
                TestVectors.directory.appendingPathComponent("negentropy/\(name).json").path, directory.path,
            ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("all checks passed"))
    }

    @Test(arguments: ["empty-both", "mixed-2000", "frame-limited-20000"])
    func theGoProgramReproducesTheTranscript(name: String) async throws {
        let directory = try TemporaryDirectory("capi-go")
        let (status, output) = try await ChildProcess.run(
            try Self.artifact("storesync_go_example"),
            [TestVectors.directory.appendingPathComponent("negentropy/\(name).json").path, directory.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("all checks passed"))
    }
}
