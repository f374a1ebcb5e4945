import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import Synchronization
import Testing

@Suite("Bulk import of JSON Lines")
struct BulkImportTests {
    /// Batches cut anywhere keep every line's number: bad lines, an overlong line (refused
    /// without being buffered whole) and a last line without a newline are reported where they
    /// are, every good message is stored once, and progress only moves forward to the whole file.
    @Test func linesKeepTheirNumbersAcrossBatchesAndProgressReachesTheEnd() async throws {
        let directory = try TemporaryDirectory()
        let messages = try testMessages(count: 1_000, seed: 31)
        var lines = messages.map(JSONLines.line)
        lines.insert("not json", at: 99)  // line 100, the last of the first batch
        lines.insert("{\"pubsub_topic\":\"p\"}", at: 250)  // line 251
        lines.insert(String(repeating: "x", count: JSONLines.maximumLineLength + 10), at: 600)  // line 601
        lines.append(lines[5])  // a duplicate, last, with no newline after it
        let file = directory.sub("in.jsonl")
        let text = lines.joined(separator: "\n")
        #expect(FileManager.default.createFile(atPath: file, contents: Data(text.utf8)))
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("s"), durability: .noSync))
        let seen = Mutex<[BulkImport.Progress]>([])
        let report = try await BulkImport(batchLines: 100, parsing: 3, writing: 2).run(path: file, into: store) {
            progress in seen.withLock { $0.append(progress) }
        }
        #expect(report.counts == StoreCounts(stored: 1_000, duplicates: 1, rejected: 3))
        #expect(report.rejected.map(\.line) == [100, 251, 601])
        #expect(report.rejected[2].reason.contains("longer than"))
        #expect(try await store.read { try $0.messageCount() } == 1_000)
        let progress = seen.withLock { $0 }
        #expect(progress.count == 11)
        #expect(
            zip(progress, progress.dropFirst()).allSatisfy { $0.handled < $1.handled && $0.bytesRead <= $1.bytesRead })
        #expect(progress.last?.bytesRead == text.utf8.count)
        #expect(progress.last?.totalBytes == text.utf8.count)
        #expect(progress.last?.handled == 1_004)
    }

    @Test func aMissingFileIsAClearError() async throws {
        let directory = try TemporaryDirectory()
        let store = try MessageStore(StoreConfiguration(directory: directory.sub("s"), durability: .noSync))
        await #expect {
            try await BulkImport().run(path: directory.sub("nothing.jsonl"), into: store)
        } throws: { error in
            "\(error)".contains("cannot read")
        }
    }
}
