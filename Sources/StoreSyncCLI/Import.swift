import ArgumentParser
import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import Synchronization

/// `storesync import`: stores the messages of a JSON Lines file in a local store, streaming,
/// with progress on standard error.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store the messages of a JSON Lines file in a local data directory.")

    @Option(help: "Directory of the LMDB store.")
    var dataDir: String

    @Argument(help: "JSON Lines file: pubsub_topic, content_topic, payload (base64), meta, timestamp (ns), ephemeral.")
    var file: String

    @OptionGroup var retention: RetentionOptions

    func run() async throws {
        let store = try openStore(dataDir, retention: retention.policy)
        let display = Mutex((Progress(), BulkImport.Progress?.none))
        let done: BulkImport.Report
        do {
            done = try await BulkImport().run(path: file, into: store) { progress in
                display.withLock { display in
                    display.0.show(Self.describe(progress))
                    display.1 = progress
                }
            }
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        display.withLock { display in
            if let last = display.1 { display.0.show(Self.describe(last), final: true) }
        }
        report(done.counts, reasons: done.rejected)
    }

    /// One progress line: messages, rate, bytes read and time left.
    static func describe(_ progress: BulkImport.Progress) -> String {
        let left = progress.secondsLeft.map { ", \(humanSeconds($0)) left" } ?? ""
        return "imported \(progress.handled) messages, \(Int(progress.rate)) msg/s, "
            + "\(humanBytes(progress.bytesRead)) of \(humanBytes(progress.totalBytes)) read\(left)"
    }
}
